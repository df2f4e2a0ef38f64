package main

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// startOnFD0 builds the app and starts it the way a process manager does:
// the listening unix socket on fd 0.
func startOnFD0(t *testing.T, env []string, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "fcgiapp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // the socket now belongs to the child
	ln.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Env = f, env
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, sock, &logs
}

// fetch sends a GET for path through the record layer and returns stdout.
func fetch(t *testing.T, sock, path string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("dialing the app: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	p, q, _ := strings.Cut(path, "?")
	w := record.NewWriter(c)
	w.WriteBeginRequest(1, record.RoleResponder, 0)
	w.WriteParams(1, []record.Pair{{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "REQUEST_URI", Value: path},
		{Name: "SCRIPT_NAME", Value: "/app"}, {Name: "PATH_INFO", Value: p}, {Name: "QUERY_STRING", Value: q},
		{Name: "SERVER_PROTOCOL", Value: "HTTP/1.1"}, {Name: "HTTP_HOST", Value: "app.test"}})
	w.CloseStream(record.TypeStdin, 1)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []byte
	rd := record.NewReader(c)
	for {
		rec, err := rd.Next()
		if err != nil {
			t.Fatalf("reading the reply to %s: %v (so far %q)", path, err, out)
		}
		switch rec.Type {
		case record.TypeStdout:
			out = append(out, rec.Content...)
		case record.TypeEndRequest:
			return string(out)
		}
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd, logs *bytes.Buffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("app exited with %v; log:\n%s", err, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("app still running; log:\n%s", logs)
	}
}

func TestSIGTERMFinishesInFlight(t *testing.T) {
	cmd, sock, logs := startOnFD0(t, []string{"FCGI_SHUTDOWN_GRACE=5s"})
	if out := fetch(t, sock, "/hello"); !strings.HasSuffix(out, "hello\n") {
		t.Fatalf("/hello: %q", out)
	}
	result := make(chan string, 1)
	go func() { result <- fetch(t, sock, "/slow?ms=400") }()
	time.Sleep(150 * time.Millisecond) // the slow request is in flight
	cmd.Process.Signal(syscall.SIGTERM)
	if out := <-result; !strings.Contains(out, "slow: done") {
		t.Errorf("in-flight request after SIGTERM: %q", out)
	}
	waitExit(t, cmd, logs)
	if !strings.Contains(logs.String(), "stopped after 2 requests") {
		t.Errorf("log: %s", logs)
	}
}

func TestMaxRequestsRecycles(t *testing.T) {
	cmd, sock, logs := startOnFD0(t, []string{"FCGI_MAX_REQUESTS=3"})
	for i := range 3 {
		if out := fetch(t, sock, "/hello"); !strings.HasSuffix(out, "hello\n") {
			t.Fatalf("request %d: %q", i, out)
		}
	}
	waitExit(t, cmd, logs)
}

func TestNetHTTPBaseline(t *testing.T) {
	cmd, sock, logs := startOnFD0(t, nil, "-nethttp")
	for _, path := range []string{"/hello", "/"} {
		out := fetch(t, sock, path)
		if !strings.Contains(out, "hello\n") && !strings.Contains(out, "served by net/http/fcgi") {
			t.Errorf("%s via net/http/fcgi: %q", path, out)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd, logs)
}
