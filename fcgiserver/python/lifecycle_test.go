package python

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/internal/testkit"
)

// startOwn starts a server whose exit the test waits for itself.
func startOwn(t *testing.T, env ...string) (*server, chan error) {
	t.Helper()
	s := newServer(t, env...)
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.ln.Close()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-exited
	})
	return s, exited
}

// expectExit waits for a clean exit, which must come once the in-flight
// request finished.
func expectExit(t *testing.T, s *server, exited chan error) {
	t.Helper()
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("server exited with %v\n%s", err, s.logText())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("server still running\n%s", s.logText())
	}
}

// finishInFlight starts /wait on a connection, runs stop, checks the
// listener is closed while the request runs, then lets it finish and
// checks it completed.
func finishInFlight(t *testing.T, s *server, stop func()) {
	t.Helper()
	flag := filepath.Join(filepath.Dir(s.sock), "go")
	c := dial(t, s.sock)
	rd := record.NewReader(c)
	begin(t, c, 1, record.FlagKeepConn, params("GET", "/wait?f="+flag), []byte{})
	r := &reply{}
	if err := readUntil(t, rd, 1, r, bodyHas("waiting\n")); err != nil {
		t.Fatal(err)
	}
	stop()
	testkit.WaitFor(t, "the server to stop accepting", 10*time.Second, func() bool {
		nc, err := net.Dial("unix", s.sock)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
	os.WriteFile(flag, nil, 0o644)
	if err := readUntil(t, rd, 1, r, nil); err != nil || r.body() != "waiting\nreleased\n" {
		t.Errorf("the request in flight: %q, %v", r.body(), err)
	}
	complete(t, "the request in flight", r)
	c.Close() // the server waits for a kept connection to close, a while
}

// TestMaxRequests: with FCGI_MAX_REQUESTS=3 the third request makes the
// server stop accepting; it finishes that request and exits 0.
func TestMaxRequests(t *testing.T) {
	s, exited := startOwn(t, "FCGI_MAX_REQUESTS=3")
	for range 2 {
		if r := roundTrip(t, s.sock, params("GET", "/hello"), []byte{}); r.body() != "hello\n" {
			t.Fatalf("GET /hello: %q", r.body())
		}
	}
	finishInFlight(t, s, func() {})
	expectExit(t, s, exited)
}

// TestSigterm: SIGTERM stops accepting at once, the request in flight
// finishes, then the server exits 0.
func TestSigterm(t *testing.T) {
	s, exited := startOwn(t)
	finishInFlight(t, s, func() { s.cmd.Process.Signal(syscall.SIGTERM) })
	expectExit(t, s, exited)
}

// TestPoolSettings: FCGI_STACK_SIZE reaches threading.stack_size() and
// FCGI_MIN_SPARE idle threads are started.
func TestPoolSettings(t *testing.T) {
	s := startServer(t, "FCGI_STACK_SIZE=262144", "FCGI_MIN_SPARE=3", "FCGI_MAX_SPARE=4")
	r := roundTrip(t, s.sock, params("GET", "/info"), []byte{})
	if !strings.HasPrefix(r.body(), "stack_size=262144 threads=") {
		t.Fatalf("/info: %q", r.body())
	}
	_, n, _ := strings.Cut(strings.TrimSpace(r.body()), "threads=")
	threads, _ := strconv.Atoi(n)
	if threads < 4 || threads > 6 { // main + 3 spares (+1 replacing the busy one, + the one running /info)
		t.Errorf("%d threads with minSpare 3, maxSpare 4", threads)
	}
}

// TestRequestTimeout: FCGI_REQUEST_TIMEOUT ends a request whose app is
// blocked (30 s otherwise) with a 503, and the server goes on.
func TestRequestTimeout(t *testing.T) {
	s := startServer(t, "FCGI_REQUEST_TIMEOUT=300ms")
	r := roundTrip(t, s.sock, params("GET", "/noread?k=late"), []byte{})
	complete(t, "timed out request", r)
	if r.status() != "503 Service Unavailable" {
		t.Errorf("timed out request: %q", r.stdout)
	}
	release(t, s, "late")
	if r := roundTrip(t, s.sock, params("GET", "/hello"), []byte{}); r.body() != "hello\n" {
		t.Errorf("after a timeout: %q", r.body())
	}
}
