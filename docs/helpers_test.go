package docs_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// siteHost is the guide's host name; requests carry it as Host.
const siteHost = "app.example.com"

var (
	sharedOnce sync.Once
	sharedDir  string
	sharedErr  error
	appBin     string // examples/fcgiapp built for the host
)

// shared builds the example app once for all tests.
func shared(t *testing.T) {
	t.Helper()
	sharedOnce.Do(func() {
		if sharedDir, sharedErr = os.MkdirTemp("", "guide-bin-"); sharedErr != nil {
			return
		}
		appBin = filepath.Join(sharedDir, "fcgiapp")
		cmd := exec.Command("go", "build", "-o", appBin, "github.com/mkimage/mkimage/examples/fcgiapp")
		if out, err := cmd.CombinedOutput(); err != nil {
			sharedErr = fmt.Errorf("building the example app: %v\n%s", err, out)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
}

func cleanupShared() {
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	if toolDir != "" {
		os.RemoveAll(toolDir)
	}
}

// site is the guide's /srv/myapp on the test machine.
type site struct {
	Dir   string // the temporary directory
	Www   string // /srv/myapp/www
	Pub   string // /srv/myapp/public
	files map[string][]byte
}

// newSite makes a short, world-readable directory (unix socket paths are
// limited to 107 bytes; web servers may run as another user) holding the
// document root and the static directories the guide aliases.
func newSite(t *testing.T) *site {
	t.Helper()
	dir, err := os.MkdirTemp("", "guide-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	s := &site{Dir: dir, Www: filepath.Join(dir, "www"), Pub: filepath.Join(dir, "public"), files: map[string][]byte{
		"www/index.html":           []byte("<!doctype html><title>myapp</title><h1>static index of myapp</h1>\n"),
		"public/css/site.css":      []byte("body { font-family: sans-serif }\n"),
		"public/javascript/app.js": []byte("console.log('myapp');\n"),
		"public/images/dot.gif":    []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"),
	}}
	for name, data := range s.files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// paths are the guide's section 2 placeholders mapped into the site.
func (s *site) paths(extra ...string) []string {
	return append([]string{
		"/srv/myapp/www", s.Www,
		"/srv/myapp/public", s.Pub,
		"/srv/myapp/bin/fcgiapp", appBin,
		"/run/myapp/fcgiapp.sock", s.sock(),
	}, extra...)
}

func (s *site) sock() string { return filepath.Join(s.Dir, "fcgiapp.sock") }

var client = &http.Client{
	Timeout: 20 * time.Second,
	// Report redirects instead of following them.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type reply struct {
	Status int
	Header http.Header
	Body   string
}

// fetch sends a request with the guide's Host.
func fetch(t *testing.T, method, u string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = siteHost
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading: %v", method, u, err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func get(t *testing.T, u string) reply { t.Helper(); return fetch(t, "GET", u, nil) }

// cgiVar returns a CGI variable as the example app's front page lists it.
func cgiVar(page, name string) (string, bool) {
	key := "<tr><th>" + name + "</th><td>"
	i := strings.Index(page, key)
	if i < 0 {
		return "", false
	}
	rest := page[i+len(key):]
	return rest[:strings.Index(rest, "</td>")], true
}

// wantVar checks a CGI variable (or setting row) on the app's page.
func wantVar(t *testing.T, page, name, want string) {
	t.Helper()
	got, ok := cgiVar(page, name)
	if !ok || got != want {
		t.Errorf("app page: %s = %q (present %v), want %q", name, got, ok, want)
	}
}

// checkStatic fetches the static files of the site through base.
func checkStatic(t *testing.T, base string, s *site) {
	t.Helper()
	for _, f := range []struct{ url, file, ctype string }{
		{"/", "www/index.html", "text/html"},
		{"/css/site.css", "public/css/site.css", "text/css"},
		{"/images/dot.gif", "public/images/dot.gif", "image/gif"},
		{"/javascript/app.js", "public/javascript/app.js", "javascript"},
	} {
		r := get(t, base+f.url)
		if r.Status != 200 || r.Body != string(s.files[f.file]) {
			t.Errorf("GET %s: %d, %d bytes, want the %d bytes of %s\n%.300s", f.url, r.Status, len(r.Body), len(s.files[f.file]), f.file, r.Body)
		} else if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, f.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", f.url, ct, f.ctype)
		}
	}
}

// checkApp fetches the app under /app through base and returns its front
// page: SCRIPT_NAME must be the prefix and PATH_INFO the rest.
func checkApp(t *testing.T, base string) string {
	t.Helper()
	r := get(t, base+"/app/")
	if r.Status != 200 || !strings.Contains(r.Body, "served by fcgiserver") {
		t.Fatalf("GET /app/: %d\n%.600s", r.Status, r.Body)
	}
	wantVar(t, r.Body, "SCRIPT_NAME", "/app")
	wantVar(t, r.Body, "PATH_INFO", "/")
	if h := get(t, base+"/app/hello"); h.Status != 200 || h.Body != "hello\n" {
		t.Errorf("GET /app/hello: %d %.200q", h.Status, h.Body)
	}
	form := url.Values{"name": {"guide reader"}}.Encode()
	e := fetch(t, "POST", base+"/app/echo", bytes.NewBufferString(form), "Content-Type", "application/x-www-form-urlencoded")
	if e.Status != 200 || !strings.Contains(e.Body, "guide reader") {
		t.Errorf("POST /app/echo: %d %.300s", e.Status, e.Body)
	}
	return r.Body
}

// poolKnobs checks the flup knobs the guide sets reached the process.
func poolKnobs(t *testing.T, page string) {
	t.Helper()
	wantVar(t, page, "MaxThreads (FCGI_MAX_THREADS)", "50")
	wantVar(t, page, "MinSpare (FCGI_MIN_SPARE)", "1")
	wantVar(t, page, "MaxSpare (FCGI_MAX_SPARE)", "5")
}
