package httpfront

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// statusTemplate is the status page as an html/template, as it was before
// writeStatusPage: the oracle the hand-written page must equal, byte for
// byte, escaping included.
var statusTemplate = template.Must(template.New("status").Parse(`<!doctype html>
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
{{range .Pools}}<h2>pool {{.Name}}</h2><p>{{.Settings.Summary}}</p>{{range .Settings.Warnings}}<p>warning: {{.}}</p>{{end}}{{end}}{{with .FastCGI}}
<h2>FastCGI backends</h2><table><tr><th>app</th><th>backend</th><th>connections kept</th><th>FCGI_MAX_CONNS</th></tr>
{{range .}}<tr><td>{{.App}}</td><td>{{.Backend}}</td><td>{{if .Reused}}yes{{else}}no{{end}}</td><td>{{if .Asked}}{{if .MaxConns}}{{.MaxConns}}{{else}}no answer{{end}}{{else}}not asked yet{{end}}</td></tr>
{{end}}</table>{{end}}
<h2>services</h2><table><tr><th>name</th><th>pid</th><th>state</th><th>restarts</th><th>threads</th><th>RSS KiB</th><th>anon KiB</th><th>stack limit</th><th>last exit</th></tr>
{{range .Services}}<tr><td>{{.Name}}</td><td>{{.PID}}</td><td>{{.State}}</td><td>{{.Restarts}}</td><td>{{.Threads}}</td><td>{{.RSSKiB}}</td><td>{{.AnonKiB}}</td><td>{{.StackLimit}}</td><td>{{.LastExit}}</td></tr>
{{end}}</table><p><a href="{{.JSON}}">JSON</a></p></body></html>
`))

// TestStatusPageMatchesTemplate renders reports with every section and
// hostile strings both ways.
func TestStatusPageMatchesTemplate(t *testing.T) {
	hostile := `<script>alert('x"&+y')</script>` + "\x00é"
	at := time.Date(2026, 12, 3, 11, 0, 0, 0, time.FixedZone("X", 3600))
	full := spec.Report{
		Hostname: hostile, UptimeSeconds: 12.5, MemTotalMiB: 64, MemAvailMiB: 49, MemInUseMiB: 14,
		Facts: spec.MachineFacts{OnlineCPUs: 2, PhysicalCores: 1},
		Pools: []spec.PoolReport{{Name: "app" + hostile, Settings: spec.PoolSettings{Summary: "procs=1 " + hostile, Warnings: []string{"w1", hostile}}}},
		Services: []spec.ServiceReport{
			{Name: "app.0", PID: 42, State: "ready", Restarts: 3, Threads: 7, RSSKiB: 5120, AnonKiB: 900, StackLimit: "256KiB", LastExit: hostile},
			{Name: "httpfront", PID: -1},
		},
		Update: &spec.UpdateReport{Version: "1.1.0", Slot: "b", Trial: true, Replaced: "1.0.0", Previous: "1.0.0", Note: hostile,
			Last: &spec.TrialResult{Slot: "b", Version: "1.1.0", From: "1.0.0", Result: "rolled back", Reason: hostile, At: at}},
	}
	bare := spec.Report{Hostname: "a", Update: &spec.UpdateReport{Version: "1"}}
	certs := []CertStatus{
		{Domain: "example.org", HaveCert: true, NotAfter: at, NextRenewal: at.Add(time.Hour), LastError: hostile, LastErrorAt: at, Reason: hostile},
		{Domain: hostile},
	}
	backends := []BackendStatus{
		{App: "app", Backend: "unix:/run/app.0.sock", Reused: true, Asked: true, MaxConns: 64},
		{App: hostile, Backend: hostile, Asked: true},
		{App: "php", Backend: "tcp:192.0.2.5:9000"},
	}
	for _, tc := range []struct {
		name     string
		rep      spec.Report
		https    []CertStatus
		backends []BackendStatus
		json     string
	}{
		{"empty", spec.Report{}, nil, nil, ".status.json"},
		{"bare update", bare, nil, nil, "s.json"},
		{"everything", full, certs, backends, hostile + "%41%4.json"},
		{"a scheme", bare, nil, backends[:1], "javascript:alert(1).json"},
		{"an http URL", bare, nil, nil, "HTTP://x/y.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got strings.Builder
			page := statusPage{Report: tc.rep, HTTPS: tc.https, FastCGI: tc.backends, JSON: tc.json}
			if err := statusTemplate.Execute(&want, page); err != nil {
				t.Fatal(err)
			}
			if err := writeStatusPage(&got, page); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("the page differs from the template's:\n got %q\nwant %q", got.String(), want.String())
			}
			if strings.Contains(got.String(), "<script>") {
				t.Error("a value was not escaped")
			}
		})
	}
}
