package fcgiserver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
)

// nginxConf proxies /app/ to a unix socket with keep-alive FastCGI
// connections (FCGI_KEEP_CONN) and unbuffered bodies both ways.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	fastcgi_temp_path %[1]s/fastcgi;
	proxy_temp_path %[1]s/proxy;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	client_max_body_size 64m;
	upstream app {
		server unix:%[2]s;
		keepalive 16;
	}
	server {
		listen 127.0.0.1:%[3]d;
		location /app/ {
			fastcgi_pass app;
			fastcgi_keep_conn on;
			fastcgi_buffering off;
			fastcgi_request_buffering off;
			fastcgi_split_path_info ^(/app)(/.*)$;
			fastcgi_param REQUEST_METHOD $request_method;
			fastcgi_param QUERY_STRING $query_string;
			fastcgi_param CONTENT_TYPE $content_type;
			fastcgi_param CONTENT_LENGTH $content_length;
			fastcgi_param REQUEST_URI $request_uri;
			fastcgi_param SCRIPT_NAME $fastcgi_script_name;
			fastcgi_param PATH_INFO $fastcgi_path_info;
			fastcgi_param SERVER_PROTOCOL $server_protocol;
			fastcgi_param SERVER_SOFTWARE nginx/$nginx_version;
			fastcgi_param SERVER_NAME $server_name;
			fastcgi_param SERVER_PORT $server_port;
			fastcgi_param REMOTE_ADDR $remote_addr;
			fastcgi_param REMOTE_PORT $remote_port;
		}
	}
}
`

// nginxHandler is the example app's behaviour, plus probes the test reads.
type nginxHandler struct {
	cancelled chan error // causes of cancelled streaming or waiting handlers
	keptConn  atomic.Int64
}

func (h *nginxHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !r.Close {
		h.keptConn.Add(1)
	}
	switch Param(r, "PATH_INFO") {
	case "/hello":
		io.WriteString(w, "hello\n")
	case "/echo":
		sum := sha256.New()
		n, err := io.Copy(sum, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "received %d bytes sha256=%x\n", n, sum.Sum(nil))
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		io.WriteString(w, strings.Repeat("0123456789abcdef", n/16))
	case "/stream":
		chunk := []byte(strings.Repeat("x", 64<<10))
		for r.Context().Err() == nil {
			w.Write(chunk)
			w.(http.Flusher).Flush()
		}
		h.cancelled <- context.Cause(r.Context())
	case "/slow":
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			io.WriteString(w, "done\n")
		case <-r.Context().Done():
			h.cancelled <- context.Cause(r.Context())
		}
	}
}

// TestNginx serves through nginx's fastcgi_pass to a unix socket.
func TestNginx(t *testing.T) {
	bin := testkit.NeedPeer(t, "nginx")
	h := &nginxHandler{cancelled: make(chan error, 8)}
	cfg := DefaultConfig()
	cfg.MaxThreads, cfg.MaxSpare = 8, 4
	srv, sock := testServer(t, h, cfg)
	dir := t.TempDir()
	port := testkit.FreePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, sock, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "stderr.log")
	startDaemon(t, logPath, bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
	base := fmt.Sprintf("http://127.0.0.1:%d/app", port)
	testkit.WaitHTTP(t, base+"/hello", logPath)
	c := httpClient()
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	t.Run("GET", func(t *testing.T) {
		if status, body := get(t, c, base+"/hello"); status != 200 || body != "hello\n" {
			t.Errorf("GET /hello: %d %q", status, body)
		}
	})
	t.Run("POST bodies", func(t *testing.T) { postSizes(t, c, base+"/echo") })
	t.Run("4 MiB response", func(t *testing.T) { checkBig(t, c, base+"/big?n=4194304", 4<<20) })
	t.Run("keep-conn used", func(t *testing.T) {
		if h.keptConn.Load() == 0 || srv.Stats().Conns == 0 {
			t.Errorf("nginx kept no FastCGI connection: %d kept requests, %d open", h.keptConn.Load(), srv.Stats().Conns)
		}
	})
	t.Run("client hangs up mid-response", func(t *testing.T) {
		readSomeAndHangUp(t, addr, "/app/stream", 256<<10)
		expectCancel(t, h.cancelled)
	})
	t.Run("client hangs up while handler waits", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /app/slow?ms=20000 HTTP/1.1\r\nHost: test\r\n\r\n")
		testkit.WaitFor(t, "the condition", 10*time.Second, func() bool { return srv.Stats().Busy == 1 })
		conn.Close()
		expectCancel(t, h.cancelled)
	})
	t.Run("200 concurrent with MaxThreads=8", func(t *testing.T) {
		counts := concurrentStatuses(t, base+"/slow?ms=300", 200)
		t.Logf("statuses: %v", counts)
		if counts[200] < 8 || counts[503] == 0 {
			t.Errorf("want at least 8 OK and some 503, got %v", counts)
		}
	})
}

func expectCancel(t *testing.T, causes chan error) {
	t.Helper()
	select {
	case err := <-causes:
		if err != ErrConnClosed {
			t.Errorf("handler cancelled with %v, want %v", err, ErrConnClosed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler not cancelled 10s after the client hung up")
	}
}
