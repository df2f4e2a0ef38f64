package httpfront

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// fakeInit serves rep as init's report on a unix socket (closing the
// listener is init going away).
func fakeInit(t *testing.T, rep spec.Report) (string, net.Listener) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "status.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = json.NewEncoder(c).Encode(rep)
			c.Close()
		}
	}()
	return sock, ln
}

// fakeInitSock is fakeInit with a minimal report.
func fakeInitSock(t *testing.T) string {
	sock, _ := fakeInit(t, spec.Report{Hostname: "box"})
	return sock
}

func TestStatusRoute(t *testing.T) {
	sock, ln := fakeInit(t, spec.Report{Hostname: "box", MemTotalMiB: 64, MemAvailMiB: 49, MemInUseMiB: 14, Services: []spec.ServiceReport{{Name: "app.0", PID: 42, State: "ready", Restarts: 3}},
		Update: &spec.UpdateReport{Version: "1.1.0", Slot: "a", Previous: "1.0.0", Last: &spec.TrialResult{
			Slot: "b", Version: "1.2.0", From: "1.1.0", Result: spec.TrialRolledBack, Reason: "the health check <b> failed", At: time.Unix(1700000000, 0).UTC()}}})
	root := t.TempDir()
	f, err := New(spec.Front{Root: root, Status: spec.StatusPage{Path: "/.status", Socket: sock, Allow: []string{"10.0.2.2/32"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		path, remote string
		code         int
		body         string
	}{
		{"/.status", "10.0.2.2:5555", 200, "<td>app.0</td><td>42</td><td>ready</td><td>3</td>"},
		{"/.status", "10.0.2.2:5555", 200, `<a href=".status.json">`},
		{"/.status", "10.0.2.2:5555", 200, "memory: 14 MiB in use of 64 MiB (49 MiB available)"},
		{"/.status.json", "10.0.2.2:5555", 200, `"mem_in_use_mib": 14`},
		{"/.status", "10.0.2.2:5555", 200, "version 1.1.0 in slot a; a rollback would boot 1.0.0"},
		{"/.status", "10.0.2.2:5555", 200, "last update: 1.2.0 (from 1.1.0) in slot b: rolled back at 2023-11-14 22:13:20 UTC: the health check &lt;b&gt; failed"},
		{"/.status.json", "10.0.2.2:5555", 200, `"previous": "1.0.0"`},
		{"/.status.json", "10.0.2.2:5555", 200, `"restarts": 3`},
		{"/.status", "10.0.2.3:5555", 403, "forbidden"},
		{"/.status.json", "[::ffff:10.0.2.2]:1", 200, `"hostname": "box"`},
		{"/.statusx", "10.0.2.2:5555", 404, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.path, nil)
		r.RemoteAddr = tt.remote
		w := httptest.NewRecorder()
		f.ServeHTTP(w, r)
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("%s from %s: %d %q", tt.path, tt.remote, w.Code, w.Body.String())
		}
	}
	ln.Close()
	r := httptest.NewRequest("GET", "/.status", nil)
	r.RemoteAddr = "10.0.2.2:1"
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	if w.Code != http.StatusBadGateway {
		t.Errorf("init gone: %d", w.Code)
	}
}
