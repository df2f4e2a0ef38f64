package python

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/httpfront"
	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
)

// lighttpdConf mounts the server the test started at /app (socket) and a
// second one lighttpd spawns itself at /spawned (bin-path, socket on fd 0).
const lighttpdConf = `server.document-root = "%[1]s"
server.bind = "127.0.0.1"
server.port = %[2]d
server.modules += ( "mod_fastcgi" )
server.stream-request-body = 2
server.stream-response-body = 2
fastcgi.server = (
	"/app" => (( "socket" => "%[3]s", "check-local" => "disable" )),
	"/spawned" => ((
		"socket" => "%[1]s/spawned.sock",
		"bin-path" => "%[4]s",
		"max-procs" => 1,
		"check-local" => "disable",
		"bin-environment" => ( "APP_DIR" => "%[5]s", "FCGI_MAX_THREADS" => "4" ),
	)),
)
`

// nginxConf passes /app/ to the server over kept FastCGI connections.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
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
		keepalive 8;
	}
	server {
		listen 127.0.0.1:%[3]d;
		location /app/ {
			fastcgi_pass app;
			fastcgi_keep_conn on;
			fastcgi_buffering off;
			fastcgi_request_buffering off;
			fastcgi_split_path_info ^(/app)(/.*)$;
			include %[4]s;
			fastcgi_param SCRIPT_NAME $fastcgi_script_name;
			fastcgi_param PATH_INFO $fastcgi_path_info;
		}
	}
}
`

// checkPeer sends a GET, a GET of the environment and a 1 MiB POST to the
// app mounted at base, through a web server.
func checkPeer(t *testing.T, base string) {
	t.Helper()
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get(base + "/hello"); status != 200 || body != "hello\n" {
		t.Errorf("GET /hello: %d %q", status, body)
	}
	if status, body := get(base + "/env?x=1"); status != 200 || !strings.Contains(body, "PATH_INFO=/env\n") ||
		!strings.Contains(body, "QUERY_STRING=x=1\n") || !strings.Contains(body, "SCRIPT_NAME="+base[strings.LastIndex(base, "/"):]+"\n") {
		t.Errorf("GET /env: %d %q", status, body)
	}
	body, want := digest(1 << 20)
	resp, err := http.Post(base+"/echo", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != want {
		t.Errorf("POST 1 MiB: %d %q, want %q", resp.StatusCode, got, want)
	}
}

func peerDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "wsgipeer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startLighttpd runs lighttpd in front of s (and of its own spawned copy)
// and returns its base URL.
func startLighttpd(t *testing.T, s *server) string {
	bin := testkit.NeedPeer(t, "lighttpd")
	dir := peerDir(t)
	here, _ := os.Getwd()
	py, _ := exec.LookPath("python3")
	port := testkit.FreePort(t)
	conf := filepath.Join(dir, "lighttpd.conf")
	text := fmt.Sprintf(lighttpdConf, dir, port, s.sock, py+" "+filepath.Join(here, "mkimage_wsgi.py")+" app:application", filepath.Join(here, "testdata"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "lighttpd.log")
	testkit.StartProc(t, exec.Command(bin, "-D", "-f", conf), logPath)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testkit.WaitHTTP(t, base+"/app/hello", logPath)
	return base
}

// TestLighttpd: lighttpd's mod_fastcgi to a server the test started, and to
// one lighttpd spawned through bin-path.
func TestLighttpd(t *testing.T) {
	s := startServer(t)
	base := startLighttpd(t, s)
	t.Run("socket", func(t *testing.T) { checkPeer(t, base+"/app") })
	t.Run("bin-path", func(t *testing.T) { checkPeer(t, base+"/spawned") })
}

// TestNginx: nginx's fastcgi_pass over kept connections.
func TestNginx(t *testing.T) {
	bin := testkit.NeedPeer(t, "nginx")
	s := startServer(t)
	dir := peerDir(t)
	params := "/etc/nginx/fastcgi_params"
	if _, err := os.Stat(params); err != nil {
		t.Skipf("nginx without %s", params)
	}
	port := testkit.FreePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, s.sock, port, params)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "stderr.log")
	testkit.StartProc(t, exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf), logPath)
	base := fmt.Sprintf("http://127.0.0.1:%d/app", port)
	testkit.WaitHTTP(t, base+"/hello", logPath)
	for range 3 { // several requests over nginx's kept connections
		checkPeer(t, base)
	}
}

// startFront runs httpfront in-process with the app at /app.
func startFront(t *testing.T, s *server) string {
	f, err := httpfront.NewWithOptions(spec.Front{Root: peerDir(t), AccessLog: "off",
		Apps: []spec.App{{Name: "py", Prefix: "/app", Backends: []string{"unix:" + s.sock}}}}, httpfront.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	return hs.URL
}

// TestHTTPFront: the project's front end, in process, streaming included.
func TestHTTPFront(t *testing.T) {
	s := startServer(t)
	base := startFront(t, s)
	checkPeer(t, base+"/app")
	resp, err := http.Get(base + "/app/wait?k=front")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("waiting\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "waiting\n" {
		t.Fatalf("first chunk through httpfront: %q %v", first, err)
	}
	release(t, s, "front")
	if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != "released\n" {
		t.Errorf("rest: %q %v", rest, err)
	}
}

// TestBenchPeers (MKIMAGE_WSGI_BENCH=1, needs wrk) measures a hello app
// through httpfront and through lighttpd, the same Python server behind.
func TestBenchPeers(t *testing.T) {
	if os.Getenv("MKIMAGE_WSGI_BENCH") != "1" {
		t.Skip("set MKIMAGE_WSGI_BENCH=1")
	}
	wrk := testkit.NeedPeer(t, "wrk")
	s := startServer(t)
	for name, url := range map[string]string{"httpfront": startFront(t, s) + "/app/hello", "lighttpd": startLighttpd(t, s) + "/app/hello"} {
		out, err := exec.Command(wrk, "-t2", "-c16", "-d5s", url).CombinedOutput()
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
		t.Logf("%s (wrk -t2 -c16 -d5s %s):\n%s", name, url, out)
		time.Sleep(time.Second)
	}
}
