package httpfront

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// statusRoute renders init's status report (JSON read from a unix socket)
// as HTML at Path and as JSON at Path + ".json", for allowed clients only.
type statusRoute struct {
	path   string
	socket string
	allow  cidrs
	https  func() []CertStatus // the front end's own ACME state, or nil
}

func newStatusRoute(s spec.StatusPage) (*statusRoute, error) {
	r := &statusRoute{path: s.Path, socket: s.Socket}
	if r.socket == "" {
		r.socket = spec.StatusSocket
	}
	allow := s.Allow
	if len(allow) == 0 {
		allow = []string{"127.0.0.0/8", "::1/128"}
	}
	var err error
	if r.allow, err = parseCIDRs(allow); err != nil {
		return nil, fmt.Errorf("status page: allow %w", err)
	}
	return r, nil
}

func (s *statusRoute) matches(p string) bool { return p == s.path || p == s.path+".json" }

func (s *statusRoute) allowed(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	return err == nil && s.allow.contains(a)
}

func (s *statusRoute) serve(w http.ResponseWriter, r *http.Request, p string) {
	if !s.allowed(r.RemoteAddr) {
		http.Error(w, "403 forbidden", http.StatusForbidden)
		return
	}
	rep, err := s.fetch()
	if err != nil {
		http.Error(w, "502 status unavailable: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	var https []CertStatus
	if s.https != nil {
		https = s.https()
	}
	if strings.HasSuffix(p, ".json") {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			spec.Report
			HTTPS []CertStatus `json:"https,omitempty"`
		}{rep, https})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = statusPage.Execute(w, struct {
		spec.Report
		HTTPS []CertStatus
		JSON  string
	}{rep, https, path.Base(s.path) + ".json"}) // relative: works behind a prefix-stripping proxy
}

func (s *statusRoute) fetch() (spec.Report, error) {
	var rep spec.Report
	c, err := net.DialTimeout("unix", s.socket, 2*time.Second)
	if err != nil {
		return rep, fmt.Errorf("connecting to init: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return rep, fmt.Errorf("reading init's report: %w", err)
	}
	return rep, nil
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Hostname}} status</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}</style></head>
<body><h1>{{.Hostname}}</h1>
<p>up {{printf "%.0f" .UptimeSeconds}} s; memory: {{.MemInUseMiB}} MiB in use of {{.MemTotalMiB}} MiB ({{.MemAvailMiB}} MiB available);
{{.Facts.OnlineCPUs}} CPUs, {{.Facts.PhysicalCores}} physical cores</p>
{{with .Update}}<h2>system</h2><p>version {{.Version}}{{with .Slot}} in slot {{.}}{{end}}{{if .Trial}}, on trial (not yet judged){{end}}{{with .Replaced}}; it replaced {{.}}{{end}}{{with .Previous}}; a rollback would boot {{.}}{{end}}{{with .Note}}; {{.}}{{end}}</p>
{{with .Last}}<p>last update: {{.Version}} (from {{.From}}) in slot {{.Slot}}: {{.Result}} at {{.At.Format "2006-01-02 15:04:05 UTC"}}{{with .Reason}}: {{.}}{{end}}</p>{{end}}{{end}}
{{with .HTTPS}}<h2>HTTPS</h2><table><tr><th>domain</th><th>certificate</th><th>expires</th><th>next renewal</th><th>last error from the CA</th></tr>
{{range .}}<tr><td>{{.Domain}}</td><td>{{if .HaveCert}}yes{{else}}none yet{{end}}</td><td>{{if .HaveCert}}{{.NotAfter.UTC.Format "2006-01-02 15:04:05 UTC"}}{{end}}</td><td>{{if not .NextRenewal.IsZero}}{{.NextRenewal.UTC.Format "2006-01-02 15:04:05 UTC"}}{{end}}</td><td>{{with .Reason}}<b>{{.}}</b>: {{end}}{{.LastError}}{{if .LastError}} (at {{.LastErrorAt.UTC.Format "2006-01-02 15:04:05 UTC"}}){{end}}</td></tr>
{{end}}</table>{{end}}
{{range .Pools}}<h2>pool {{.Name}}</h2><p>{{.Settings.Summary}}</p>{{range .Settings.Warnings}}<p>warning: {{.}}</p>{{end}}{{end}}
<h2>services</h2><table><tr><th>name</th><th>pid</th><th>state</th><th>restarts</th><th>threads</th><th>RSS KiB</th><th>stack limit</th><th>last exit</th></tr>
{{range .Services}}<tr><td>{{.Name}}</td><td>{{.PID}}</td><td>{{.State}}</td><td>{{.Restarts}}</td><td>{{.Threads}}</td><td>{{.RSSKiB}}</td><td>{{.StackLimit}}</td><td>{{.LastExit}}</td></tr>
{{end}}</table><p><a href="{{.JSON}}">JSON</a></p></body></html>
`))
