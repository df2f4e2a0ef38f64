package fcgiserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/internal/testkit"
)

func TestHTTPRequestFromParams(t *testing.T) {
	dump := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "method=%s proto=%s url=%s uri=%s host=%s remote=%s tls=%v cl=%d ua=%q ct=%q x=%q script=%q pathinfo=%q",
			r.Method, r.Proto, r.URL, r.RequestURI, r.Host, r.RemoteAddr, r.TLS != nil, r.ContentLength,
			r.UserAgent(), r.Header.Get("Content-Type"), r.Header.Get("X-Custom-Thing"),
			Param(r, "SCRIPT_NAME"), Param(r, "PATH_INFO"))
	})
	_, path := testServer(t, dump, DefaultConfig())
	tests := []struct {
		name   string
		params []record.Pair
		want   []string
	}{
		{"lighttpd style", pairs("REQUEST_METHOD", "GET", "SERVER_PROTOCOL", "HTTP/1.1",
			"REQUEST_URI", "/app/x/y?q=1", "SCRIPT_NAME", "/app", "PATH_INFO", "/x/y", "QUERY_STRING", "q=1",
			"HTTP_HOST", "h.test:8080", "REMOTE_ADDR", "::1", "REMOTE_PORT", "5555",
			"HTTP_USER_AGENT", "wrk", "HTTP_X_CUSTOM_THING", "yes", "HTTPS", "on"),
			[]string{"method=GET", "proto=HTTP/1.1", "url=/app/x/y?q=1", "host=h.test:8080", "remote=[::1]:5555",
				"tls=true", "cl=0", `ua="wrk"`, `x="yes"`, `script="/app"`, `pathinfo="/x/y"`}},
		{"no REQUEST_URI", pairs("REQUEST_METHOD", "POST", "SERVER_PROTOCOL", "HTTP/1.0",
			"SCRIPT_NAME", "/s", "PATH_INFO", "/p", "QUERY_STRING", "a=b", "SERVER_NAME", "srv.test",
			"CONTENT_TYPE", "text/plain", "CONTENT_LENGTH", "0"),
			[]string{"method=POST", "proto=HTTP/1.0", "url=/s/p?a=b", "host=srv.test", "tls=false", `ct="text/plain"`, "cl=0"}},
		{"chunked POST", pairs("REQUEST_METHOD", "POST", "REQUEST_URI", "/"), []string{"cl=-1", "proto=HTTP/1.0"}},
	}
	for _, tt := range tests {
		r := do(t, path, tt.params, nil)
		for _, w := range tt.want {
			if !strings.Contains(r.body(), w) {
				t.Errorf("%s: %q lacks %q", tt.name, r.body(), w)
			}
		}
	}
	bad := []struct {
		name   string
		params []record.Pair
	}{
		{"no method", pairs("REQUEST_URI", "/")},
		{"bad length", pairs("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "x")},
		{"bad uri", pairs("REQUEST_METHOD", "GET", "REQUEST_URI", "::")},
	}
	for _, tt := range bad {
		if r := do(t, path, tt.params, nil); r.status() != "400 Bad Request" || r.ends != 1 {
			t.Errorf("%s: %q", tt.name, r.status())
		}
	}
}

func TestHeaderKey(t *testing.T) {
	for in, want := range map[string]string{
		"USER_AGENT": "User-Agent", "X_FORWARDED_FOR": "X-Forwarded-For", "DNT": "Dnt",
		"X_A_B": "X-A-B", strings.Repeat("A", 70): "A" + strings.Repeat("a", 69),
	} {
		if got := headerKey(in); got != want {
			t.Errorf("headerKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResponseHeaders(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
		want []string
		not  []string
	}{
		{"implicit 200, sniffed", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hi") },
			[]string{"Status: 200 OK\r\n", "Content-Type: text/html; charset=utf-8\r\n", "Content-Length: 8\r\n"}, nil},
		{"empty", func(w http.ResponseWriter, r *http.Request) {},
			[]string{"Status: 200 OK\r\n", "Content-Length: 0\r\n"}, []string{"Content-Type"}},
		{"404 with text", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			[]string{"Status: 404 Not Found\r\n", "X-Content-Type-Options: nosniff\r\n"}, nil},
		{"unknown code", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) },
			[]string{"Status: 299\r\n"}, nil},
		{"204 has no length", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
			[]string{"Status: 204 No Content\r\n"}, []string{"Content-Length"}},
		{"header injection", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Evil", "a\r\nSet-Cookie: x=1")
			w.Header().Set("Bad Name", "v")
			w.Header().Set("Status", "500")
		}, []string{"X-Evil: a  Set-Cookie: x=1\r\n"}, []string{"Bad Name", "Status: 500"}},
		{"panic before output", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Lost", "1")
			panic("boom")
		}, []string{"Status: 500 Internal Server Error\r\n"}, []string{"X-Lost"}},
	}
	for _, tt := range tests {
		_, path := testServer(t, tt.h, DefaultConfig())
		r := do(t, path, getParams("/"), nil)
		out := string(r.stdout)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: %q lacks %q", tt.name, out, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(out, n) {
				t.Errorf("%s: %q contains %q", tt.name, out, n)
			}
		}
		if r.ends != 1 {
			t.Errorf("%s: %d END_REQUEST", tt.name, r.ends)
		}
	}
}

func TestPanicAfterHeadersDropsConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "half")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	srv, path := testServer(t, h, DefaultConfig())
	c := dial(t, path)
	sendRequest(t, c, 1, record.FlagKeepConn, getParams("/"), nil)
	rd := record.NewReader(c)
	for {
		rec, err := rd.Next()
		if err != nil {
			break // dropped, as wanted
		}
		if rec.Type == record.TypeEndRequest {
			t.Fatal("END_REQUEST after a panic mid-response")
		}
	}
	testkit.WaitFor(t, "the condition", 10*time.Second, func() bool { return srv.Stats().Conns == 0 && srv.Stats().Busy == 0 })
}

func TestStderr(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(Stderr(r), "warning: something")
		io.WriteString(w, "ok")
	})
	_, path := testServer(t, h, DefaultConfig())
	c := dial(t, path)
	sendRequest(t, c, 1, 0, getParams("/"), nil)
	rd := record.NewReader(c)
	var stderrRecs []int
	for {
		rec, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == record.TypeStderr {
			stderrRecs = append(stderrRecs, len(rec.Content))
		}
		if rec.Type == record.TypeEndRequest {
			break
		}
	}
	if fmt.Sprint(stderrRecs) != "[18 0]" {
		t.Errorf("STDERR records of sizes %v, want [18 0]", stderrRecs)
	}
}

func TestWebServerAddrs(t *testing.T) {
	tests := []struct {
		allow string
		ok    bool
	}{
		{"", true},
		{"127.0.0.1", true},
		{"10.0.0.1, ::1", false},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		addrs, err := parseAddrs(tt.allow)
		if err != nil {
			t.Fatal(err)
		}
		cfg.WebServerAddrs = addrs
		srv, err := New(echoHandler(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv.ErrorLog = testLogger(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		sendRequest(t, c, 1, 0, getParams("/"), nil)
		_, err = record.NewReader(c).Next()
		if (err == nil) != tt.ok {
			t.Errorf("allow %q: first reply error %v", tt.allow, err)
		}
		c.Close()
		srv.Shutdown(t.Context())
	}
	if _, err := parseAddrs("not-an-ip"); err == nil {
		t.Error("parseAddrs accepted a bad address")
	}
	if a, _ := parseAddrs("::ffff:127.0.0.1"); len(a) != 1 || a[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("mapped address parsed as %v", a)
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		listen string
		ok     bool
	}{
		{filepath.Join(dir, "a.sock"), true},
		{"unix:" + filepath.Join(dir, "b.sock"), true},
		{"127.0.0.1:0", true},
		{"", false},
		{filepath.Join(dir, "missing", "c.sock"), false},
	}
	for _, tt := range tests {
		ln, err := Listen(Config{Listen: tt.listen})
		if (err == nil) != tt.ok {
			t.Errorf("Listen(%q) = %v", tt.listen, err)
		}
		if ln != nil {
			ln.Close()
		}
	}
	// A stale socket file is replaced; a live one is refused.
	stale := filepath.Join(dir, "stale.sock")
	ln, _ := net.Listen("unix", stale)
	if _, err := Listen(Config{Listen: stale}); err == nil {
		t.Error("Listen took over a live socket")
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(Config{Listen: stale})
	if err != nil {
		t.Errorf("Listen on a stale socket: %v", err)
	} else {
		ln2.Close()
	}
}
