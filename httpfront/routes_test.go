package httpfront

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/spec"
)

func TestXSendfile(t *testing.T) {
	dir := sockDir(t)
	files := tree(t, map[string]string{"dl/report.pdf": "PDFDATA", "outside.txt": "secret"})
	os.Symlink(filepath.Join(files, "outside.txt"), filepath.Join(files, "dl", "link"))
	be := rawBackend(t, dir, "sf", func(c net.Conn, w *record.Writer, p map[string]string) {
		reply(w, "X-Sendfile: "+files+p["PATH_INFO"]+"\r\nX-App: yes\r\n\r\nignored", "")
	})
	root := tree(t, map[string]string{"index.html": "x"})
	f := newFront(t, spec.Front{Root: root, Apps: []spec.App{{Name: "a", Prefix: "/a", Backends: []string{be},
		FastCGI: spec.FastCGI{XSendfile: []string{files + "/dl"}}}}}, Options{})
	tests := []struct {
		target string
		status int
		body   string
	}{
		{"/a/dl/report.pdf", 200, "PDFDATA"},
		{"/a/outside.txt", 403, ""},
		{"/a/dl/link", 403, ""},
		{"/a/dl/missing", 403, ""},
	}
	for _, tc := range tests {
		w := do(t, f, "GET", tc.target, nil)
		if w.Code != tc.status || (tc.body != "" && w.Body.String() != tc.body) || strings.Contains(w.Body.String(), "secret") {
			t.Errorf("%s: %d %q, want %d %q", tc.target, w.Code, w.Body.String(), tc.status, tc.body)
		}
		if tc.status == 200 && (w.Header().Get("Content-Type") != "application/pdf" || w.Header().Get("X-App") != "yes") {
			t.Errorf("%s: header %v", tc.target, w.Header())
		}
	}
	if w := do(t, f, "GET", "/a/dl/report.pdf", map[string]string{"Range": "bytes=0-2"}); w.Code != 206 || w.Body.String() != "PDF" {
		t.Errorf("range on X-Sendfile: %d %q", w.Code, w.Body.String())
	}
}

func TestHostMatch(t *testing.T) {
	dir := sockDir(t)
	be := goBackend(t, dir, "h", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") }))
	root := tree(t, map[string]string{"index.html": "x", "blog/index.html": "static blog"})
	alias := tree(t, map[string]string{"a.txt": "shop alias"})
	f := newFront(t, spec.Front{Root: root,
		Aliases: []spec.Alias{{Prefix: "/files", Dir: alias, Host: `^shop\.example\.test$`}},
		Apps:    []spec.App{{Name: "blog", Prefix: "/blog", Backends: []string{be}, Host: `(^|\.)blog\.example\.test$`}},
	}, Options{})
	tests := []struct{ host, target, want string }{
		{"blog.example.test", "/blog/", "app"},
		{"www.blog.example.test:8080", "/blog/", "app"},
		{"shop.example.test", "/blog/", "static blog"},
		{"shop.example.test", "/files/a.txt", "shop alias"},
		{"blog.example.test", "/files/a.txt", "404 page not found\n"},
	}
	for _, tc := range tests {
		r, _ := rawRequest("GET", tc.target, nil)
		r.Host = tc.host
		w := recorder()
		f.ServeHTTP(w, r)
		if w.Body.String() != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.host, tc.target, w.Body.String(), tc.want)
		}
	}
}

func TestAuthorizer(t *testing.T) {
	dir := sockDir(t)
	be := rawBackend(t, dir, "auth", func(c net.Conn, w *record.Writer, p map[string]string) {
		if p["HTTP_AUTHORIZATION"] == "Bearer ok" {
			reply(w, "Status: 200\r\n\r\n", "")
			return
		}
		reply(w, "Status: 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\r\nno", "")
	})
	root := tree(t, map[string]string{"private/doc.txt": "the doc"})
	f := newFront(t, spec.Front{Root: root, Apps: []spec.App{{Name: "auth", Prefix: "/private", Mode: "authorizer", Backends: []string{be}}}}, Options{})
	if w := do(t, f, "GET", "/private/doc.txt", nil); w.Code != 401 || w.Header().Get("Www-Authenticate") != "Bearer" {
		t.Errorf("unauthorised: %d %v", w.Code, w.Header())
	}
	if w := do(t, f, "GET", "/private/doc.txt", map[string]string{"Authorization": "Bearer ok"}); w.Code != 200 || w.Body.String() != "the doc" {
		t.Errorf("authorised: %d %q", w.Code, w.Body.String())
	}
}

func TestKeepConn(t *testing.T) {
	dir := sockDir(t)
	var conns atomic.Int64
	ln, p := listenUnix(t, dir, "k")
	counted := &countingListener{Listener: ln, n: &conns}
	go serveFCGI(counted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "k") }))
	root := tree(t, map[string]string{"index.html": "x"})
	f := newFront(t, spec.Front{Root: root, FastCGI: spec.FastCGI{KeepConn: "on"},
		Apps: []spec.App{{Name: "k", Prefix: "/k", Backends: []string{"unix:" + p}}}}, Options{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if w := do(t, f, "GET", "/k/x", nil); w.Body.String() != "k" {
					t.Errorf("got %d %q", w.Code, w.Body.String())
				}
			}
		}()
	}
	wg.Wait()
	if n := conns.Load(); n > 8 {
		t.Errorf("100 requests used %d connections with keep_conn on", n)
	}
}
