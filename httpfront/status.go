package httpfront

import (
	"encoding/json"
	"fmt"
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
	// backends is the front end's view of the apps' backends, or nil.
	backends func() []BackendStatus
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
	page := statusPage{Report: rep, JSON: path.Base(s.path) + ".json"} // relative: works behind a prefix-stripping proxy
	if s.https != nil {
		page.HTTPS = s.https()
	}
	if s.backends != nil {
		page.FastCGI = s.backends()
	}
	if strings.HasSuffix(p, ".json") {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(page)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = writeStatusPage(w, page)
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
