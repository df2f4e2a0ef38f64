package fcgiclient

import (
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
)

// autoPool is a pool with AutoKeepConn over the unix socket sock, asking
// a backend again after retry.
func autoPool(t *testing.T, sock string, retry time.Duration) (*Pool, *Backend) {
	t.Helper()
	p, err := NewPool([]string{"unix:" + sock}, Options{AutoKeepConn: true})
	if err != nil {
		t.Fatal(err)
	}
	p.probeRetry = retry
	t.Cleanup(p.Close)
	return p, p.Backends()[0]
}

func listen(t *testing.T, name string) (net.Listener, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), name)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, sock
}

// An app whose socket is bound before it runs (init binds a pool's
// sockets, then starts the app) leaves the first FCGI_GET_VALUES
// unanswered in the backlog; once it serves, it is asked again and its
// connections are reused. Before this, one silent answer at boot meant a
// connection per request for good.
func TestProbeAsksAStartingAppAgain(t *testing.T) {
	ln, sock := listen(t, "starting.sock")
	p, b := autoPool(t, sock, 300*time.Millisecond)
	if p.keepFor(b) {
		t.Fatal("reused before the app was asked")
	}
	testkit.WaitFor(t, "the first question to time out", 10*time.Second, func() bool { _, done := b.MaxConns(); return done })
	if n, _ := b.MaxConns(); n != 0 || b.silent.Load() != 1 {
		t.Fatalf("a silent app: %d connections, %d silent probes; want 0 and 1", n, b.silent.Load())
	}
	go fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	testkit.WaitFor(t, "reuse once the app answers", 10*time.Second, func() bool { return p.keepFor(b) })
	if n, _ := b.MaxConns(); n < 2 {
		t.Errorf("Go's fcgi counted as serving %d connections", n)
	}
}

// An app that takes the question and never answers it is asked
// silentTries times, then never again: each question holds one of its
// connections for probeTimeout.
func TestProbeGivesUpOnASilentApp(t *testing.T) {
	ln, sock := listen(t, "silent.sock")
	var asked atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			asked.Add(1)
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	const retry = 100 * time.Millisecond
	p, b := autoPool(t, sock, retry)
	testkit.WaitFor(t, "the questions", 20*time.Second, func() bool {
		p.keepFor(b)
		_, done := b.MaxConns()
		return done && b.silent.Load() == silentTries
	})
	for range 10 {
		time.Sleep(retry)
		if p.keepFor(b) {
			t.Fatal("a silent app's connections are reused")
		}
	}
	if n := asked.Load(); n != silentTries || b.probeAgain.Load() != 0 {
		t.Errorf("asked %d times (want %d), next question at %d (want never)", n, silentTries, b.probeAgain.Load())
	}
}
