package httpfront

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
)

// vars parses an envHandler body into a map.
func vars(body string) map[string]string {
	m := map[string]string{}
	head, rest, _ := strings.Cut(body, "\nBODY=")
	for _, l := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	m["BODY"] = rest
	return m
}

func TestCGIVariables(t *testing.T) {
	dir := sockDir(t)
	be := rawBackend(t, dir, "env", echoParams)
	root := tree(t, map[string]string{"index.html": "static home", "style.css": "css", "php/form.php": "<?php ?>"})
	f := newFront(t, spec.Front{Root: root, Apps: []spec.App{
		{Name: "shop", Prefix: "/shop", Backends: []string{be}, Env: []string{"APP_MODE=test"}},
		{Name: "site", Prefix: "/", Backends: []string{be}},
		{Name: "php", Prefix: "/php", Backends: []string{be}, CheckLocal: true},
	}}, Options{})
	tests := []struct {
		name, method, target string
		hdr                  map[string]string
		want                 map[string]string
	}{
		{"prefix", "GET", "/shop/cart/item?id=3&x=%20", map[string]string{"X-Test": "yes", "Proxy": "http://evil:1"},
			map[string]string{"SCRIPT_NAME": "/shop", "PATH_INFO": "/cart/item", "QUERY_STRING": "id=3&x=%20",
				"REQUEST_URI": "/shop/cart/item?id=3&x=%20", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
				"SERVER_NAME": "example.test", "REMOTE_ADDR": "192.0.2.1", "REMOTE_PORT": "4321",
				"HTTP_X_TEST": "yes", "HTTP_PROXY": "", "APP_MODE": "test", "HTTP_HOST": "example.test",
				"PATH_TRANSLATED": root + "/cart/item", "GATEWAY_INTERFACE": "CGI/1.1"}},
		{"prefix exact", "GET", "/shop", nil, map[string]string{"SCRIPT_NAME": "/shop", "PATH_INFO": "", "PATH_TRANSLATED": ""}},
		{"root mount", "GET", "/api/v1/users", nil, map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/api/v1/users", "SCRIPT_FILENAME": root + "/api/v1/users"}},
		{"root mount dir", "GET", "/", map[string]string{"Accept": "x"}, nil}, // index.html: static
		{"encoded path info", "GET", "/shop/a%20b", nil, map[string]string{"PATH_INFO": "/a b", "REQUEST_URI": "/shop/a%20b"}},
		{"check local", "GET", "/php/form.php/extra?q=1", nil, map[string]string{"SCRIPT_NAME": "/php/form.php", "PATH_INFO": "/extra", "SCRIPT_FILENAME": root + "/php/form.php"}},
		{"post", "POST", "/shop/buy", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "0"},
			map[string]string{"CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "0", "REQUEST_METHOD": "POST"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, f, tc.method, tc.target, tc.hdr)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
			if tc.want == nil {
				if w.Body.String() != "static home" {
					t.Fatalf("want the static index, got %q", w.Body.String())
				}
				return
			}
			v := vars(w.Body.String())
			for k, want := range tc.want {
				if v[k] != want {
					t.Errorf("%s = %q, want %q", k, v[k], want)
				}
			}
		})
	}
	for target, want := range map[string]int{"/style.css": 200, "/php/missing.php": 404, "/php/": 404} {
		if w := do(t, f, "GET", target, nil); w.Code != want || (target == "/style.css" && w.Body.String() != "css") {
			t.Errorf("%s: %d %q, want %d", target, w.Code, w.Body.String(), want)
		}
	}
}

func TestBodies(t *testing.T) {
	dir := sockDir(t)
	be := goBackend(t, dir, "env", envHandler("a"))
	root := tree(t, map[string]string{"index.html": "x"})
	f := newFront(t, spec.Front{Root: root, MaxBodyBytes: 3 << 20, TempDir: t.TempDir(),
		Apps: []spec.App{{Name: "a", Prefix: "/a", Backends: []string{be}}}}, Options{})
	srv := httptest.NewServer(f)
	defer srv.Close()
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20/16) // 2 MiB
	cases := []struct {
		name    string
		body    io.Reader
		length  int64
		status  int
		wantLen int
	}{
		{"small", strings.NewReader("hello"), 5, 200, 5},
		{"2 MiB", bytes.NewReader(big), int64(len(big)), 200, len(big)},
		{"chunked small", io.MultiReader(strings.NewReader("he"), strings.NewReader("llo")), -1, 200, 5},
		{"chunked 2 MiB (spooled)", io.MultiReader(bytes.NewReader(big)), -1, 200, len(big)},
		{"too large", bytes.NewReader(make([]byte, 4<<20)), 4 << 20, 413, 0},
		{"chunked too large", io.MultiReader(bytes.NewReader(make([]byte, 4<<20))), -1, 413, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/a/up", tc.body)
			req.ContentLength = tc.length
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %.200s", resp.StatusCode, b)
			}
			if tc.status != 200 {
				return
			}
			v := vars(string(b))
			if len(v["BODY"]) != tc.wantLen || v["CL"] != strconv.Itoa(tc.wantLen) {
				t.Errorf("app got %d bytes, CONTENT_LENGTH %s; want %d", len(v["BODY"]), v["CL"], tc.wantLen)
			}
		})
	}
}

func TestBalanceAndHealth(t *testing.T) {
	dir := sockDir(t)
	var a, b counter
	a.h, b.h = envHandler("a"), envHandler("b")
	beA := goBackend(t, dir, "a", &a)
	beB := goBackend(t, dir, "b", &b)
	dead := "unix:" + dir + "/dead.sock" // nothing listens
	root := tree(t, map[string]string{"index.html": "x"})
	f := newFront(t, spec.Front{Root: root, Apps: []spec.App{
		{Name: "a", Prefix: "/a", Backends: []string{dead, beA, beB}, FastCGI: spec.FastCGI{DownTimeMS: 60000}},
		{Name: "none", Prefix: "/none", Backends: []string{dead}},
	}}, Options{})
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := do(t, f, "GET", "/a/x", nil); w.Code != 200 {
				t.Errorf("status %d: %s", w.Code, w.Body.String())
			}
		}()
	}
	wg.Wait()
	if a.n.Load() == 0 || b.n.Load() == 0 || a.n.Load()+b.n.Load() != 40 {
		t.Errorf("spread a=%d b=%d, want both used, 40 in all", a.n.Load(), b.n.Load())
	}
	if w := do(t, f, "GET", "/none/x", nil); w.Code != 503 {
		t.Errorf("no backend: %d, want 503", w.Code)
	}
}

func TestLeastOutstanding(t *testing.T) {
	dir := sockDir(t)
	release := make(chan struct{})
	var busy atomic.Value
	blocking := func(tag string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/a/slow" {
				busy.Store(tag)
				<-release
			}
			w.Header().Set("X-Backend", tag)
		})
	}
	beA := goBackend(t, dir, "a", blocking("a"))
	beB := goBackend(t, dir, "b", blocking("b"))
	root := tree(t, map[string]string{"index.html": "x"})
	f := newFront(t, spec.Front{Root: root, Apps: []spec.App{{Name: "a", Prefix: "/a", Backends: []string{beA, beB}}}}, Options{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); do(t, f, "GET", "/a/slow", nil) }()
	testkit.WaitFor(t, "the slow request", 5*time.Second, func() bool { return busy.Load() != nil })
	for i := 0; i < 10; i++ {
		if w := do(t, f, "GET", "/a/x", nil); w.Header().Get("X-Backend") == busy.Load() {
			t.Fatalf("request %d went to the busy backend", i)
		}
	}
	close(release)
	wg.Wait()
}

func TestBackendFailures(t *testing.T) {
	dir := sockDir(t)
	var logs logBuf
	closeEarly := rawBackend(t, dir, "close", func(c net.Conn, w *record.Writer, _ map[string]string) {})
	garbage := rawBackend(t, dir, "garbage", func(c net.Conn, w *record.Writer, _ map[string]string) {
		c.Write([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	})
	slow := rawBackend(t, dir, "slow", func(c net.Conn, w *record.Writer, _ map[string]string) {
		time.Sleep(2 * time.Second)
	})
	chatty := rawBackend(t, dir, "chatty", func(c net.Conn, w *record.Writer, _ map[string]string) {
		reply(w, "Status: 201 Created\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nmade", "warning: disk almost full\n")
	})
	redirect := rawBackend(t, dir, "redir", func(c net.Conn, w *record.Writer, _ map[string]string) {
		reply(w, "Location: https://example.test/next\r\n\r\n", "")
	})
	overloaded := rawBackend(t, dir, "over", func(c net.Conn, w *record.Writer, _ map[string]string) {
		w.WriteEndRequest(1, 0, record.StatusOverloaded)
		w.Flush()
	})
	good := rawBackend(t, dir, "good", func(c net.Conn, w *record.Writer, _ map[string]string) {
		reply(w, "Content-Type: text/plain\r\n\r\ngood", "")
	})
	root := tree(t, map[string]string{"index.html": "x"})
	app := func(name string, be ...string) spec.App {
		return spec.App{Name: name, Prefix: "/" + name, Backends: be, FastCGI: spec.FastCGI{ResponseTimeoutMS: 300}}
	}
	f := newFront(t, spec.Front{Root: root, Apps: []spec.App{
		app("close", closeEarly), app("garbage", garbage), app("slow", slow), app("chatty", chatty),
		app("redir", redirect), app("over", overloaded, good),
	}}, Options{Logf: logs.logf})
	tests := []struct {
		target string
		status int
		body   string
	}{
		{"/close/x", 502, ""}, {"/garbage/x", 502, ""}, {"/slow/x", 504, ""},
		{"/chatty/x", 201, "made"}, {"/redir/x", 302, ""}, {"/over/x", 200, "good"},
	}
	for _, tc := range tests {
		start := time.Now()
		w := do(t, f, "GET", tc.target, nil)
		if w.Code != tc.status || (tc.body != "" && w.Body.String() != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.target, w.Code, w.Body.String(), tc.status, tc.body)
		}
		if time.Since(start) > 1500*time.Millisecond {
			t.Errorf("%s took %v", tc.target, time.Since(start))
		}
	}
	if !strings.Contains(logs.String(), "app chatty ["+chatty+"]: warning: disk almost full") {
		t.Errorf("stderr not logged with the backend name:\n%s", logs.String())
	}
}

// logBuf collects log lines safely.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(fmt.Sprintf(format, args...) + "\n")
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
