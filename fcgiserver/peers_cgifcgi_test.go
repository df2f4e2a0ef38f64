package fcgiserver

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
)

// cgiFcgi runs libfcgi's cgi-fcgi as a one-shot client: the CGI variables
// go in its environment, the body on its stdin, the response comes out on
// its stdout.
func cgiFcgi(t *testing.T, bin, sock string, env []string, body []byte) string {
	t.Helper()
	cmd := exec.Command(bin, "-bind", "-connect", sock)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(body)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cgi-fcgi: %v\n%s", err, errOut.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("cgi-fcgi hung")
	}
	return out.String()
}

func cgiEnv(method, uri string, extra ...string) []string {
	path, query, _ := strings.Cut(uri, "?")
	return append([]string{"REQUEST_METHOD=" + method, "REQUEST_URI=" + uri, "SCRIPT_NAME=",
		"PATH_INFO=" + path, "QUERY_STRING=" + query, "SERVER_PROTOCOL=HTTP/1.1",
		"HTTP_HOST=cgi-fcgi.test", "REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=1"}, extra...)
}

// TestCgiFcgi uses libfcgi's cgi-fcgi as an independent client.
func TestCgiFcgi(t *testing.T) {
	bin := testkit.NeedPeer(t, "cgi-fcgi")
	slowEcho := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond) // an early EOF would cancel us now
		echoHandler().ServeHTTP(w, r)
	})
	_, sock := testServer(t, slowEcho, DefaultConfig())
	body := bytes.Repeat([]byte("libfcgi "), 8<<10) // 64 KiB
	tests := []struct {
		name string
		env  []string
		body []byte
		want []string
	}{
		{"GET", cgiEnv("GET", "/x/y?z=1"), nil,
			[]string{"Status: 200 OK\r\n", "X-Path-Info: /x/y\r\n", "GET /x/y cgi-fcgi.test len=0"}},
		{"POST 64 KiB", cgiEnv("POST", "/p", "CONTENT_LENGTH=65536", "CONTENT_TYPE=application/octet-stream"), body,
			[]string{"Status: 200 OK\r\n", fmt.Sprintf("len=65536 sha=%x", sha256.Sum256(body))}},
	}
	for _, tt := range tests {
		out := cgiFcgi(t, bin, sock, tt.env, tt.body)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: %q lacks %q", tt.name, out, w)
			}
		}
	}
}

// TestSpawnFcgi starts the example app with spawn-fcgi (the socket on fd 0),
// queries it with cgi-fcgi, and stops it with SIGTERM.
func TestSpawnFcgi(t *testing.T) {
	spawn := testkit.NeedPeer(t, "spawn-fcgi")
	client := testkit.NeedPeer(t, "cgi-fcgi")
	app := buildApp(t)
	sock := filepath.Join(t.TempDir(), "app.sock")
	cmd := exec.Command(spawn, "-n", "-s", sock, "--", app) // -n: exec, no fork
	cmd.Env = []string{"FCGI_MAX_THREADS=4", "FCGI_POOL_MEMBER=3", "FCGI_STACK_SIZE=262144"}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testkit.WaitSocket(t, sock)
	out := cgiFcgi(t, client, sock, cgiEnv("GET", "/hello"), nil)
	if !strings.HasSuffix(out, "\r\n\r\nhello\n") {
		t.Errorf("GET /hello: %q", out)
	}
	out = cgiFcgi(t, client, sock, cgiEnv("GET", "/"), nil)
	for _, want := range []string{"<title>fcgiapp", "pool member <b>3</b>", "262144 bytes", "MaxThreads (FCGI_MAX_THREADS)</th><td>4"} {
		if !strings.Contains(out, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitExit(cmd, 5*time.Second); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
	}
}

// waitExit waits for cmd and returns an error unless it exits 0 within d.
func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running after %v", d)
	}
}
