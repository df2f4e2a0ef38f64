package httpfront

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
)

// fewAtATime runs a php-cgi-like FastCGI peer: it serves workers
// connections at a time (php-cgi: one), honours FCGI_KEEP_CONN, and answers FCGI_GET_VALUES with
// values (none at all when nil) and then closes the connection, as
// php-cgi does. It returns the address and the count of connections.
func fewAtATime(t *testing.T, dir, name string, workers int, values []record.Pair) (string, *atomic.Int64) {
	t.Helper()
	ln, p := listenUnix(t, dir, name)
	var conns atomic.Int64
	sem := make(chan struct{}, workers)
	go func() {
		for {
			sem <- struct{}{}
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				serveSerially(c, values)
				<-sem
			}()
		}
	}()
	return "unix:" + p, &conns
}

func serveSerially(c net.Conn, values []record.Pair) {
	defer c.Close()
	rd, w := record.NewReader(c), record.NewWriter(c)
	keep, id := false, uint16(0)
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		rec, err := rd.Next()
		if err != nil {
			return
		}
		switch rec.Type {
		case record.TypeGetValues:
			if values != nil {
				w.WriteGetValuesResult(values)
				w.Flush()
				return
			}
		case record.TypeBeginRequest:
			br, _ := record.ParseBeginRequest(rec.Content)
			keep, id = br.KeepConn(), rec.RequestID
		case record.TypeStdin:
			if len(rec.Content) > 0 {
				continue
			}
			if replyID(w, id, "Content-Type: text/plain\r\n\r\nok", "") != nil || !keep {
				return
			}
		}
	}
}

// hammer sends n GET requests from each of g goroutines and wants "ok".
func hammer(t *testing.T, h http.Handler, path string, g, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for range n {
				if w := do(t, h, "GET", path, nil); w.Code != 200 || w.Body.String() != "ok" && w.Body.String() != "k" {
					t.Errorf("GET %s: %d %q", path, w.Code, w.Body.String())
				}
			}
		})
	}
	wg.Wait()
}

func TestAutoKeepConn(t *testing.T) {
	dir := sockDir(t)
	root := tree(t, map[string]string{"index.html": "x"})
	front := func(keep, be string) *Front {
		return newFront(t, spec.Front{Root: root, FastCGI: spec.FastCGI{KeepConn: keep, ResponseTimeoutMS: 3000},
			Apps: []spec.App{{Name: "a", Prefix: "/a", Backends: []string{be}}}}, Options{})
	}
	asked := func(f *Front) int64 {
		b := f.apps[0].pool.Backends()[0]
		testkit.WaitFor(t, "GET_VALUES answer", 5*time.Second, func() bool { _, done := b.MaxConns(); return done })
		n, _ := b.MaxConns()
		return n
	}

	t.Run("several connections: reused", func(t *testing.T) {
		var conns atomic.Int64
		ln, p := listenUnix(t, dir, "many")
		go serveFCGI(&countingListener{Listener: ln, n: &conns}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "k") }))
		f := front("", "unix:"+p)
		hammer(t, f, "/a/x", 1, 1)
		if n := asked(f); n < 2 {
			t.Fatalf("Go's fcgi (FCGI_MPXS_CONNS 1) counted as serving %d connections", n)
		}
		if st := f.backendStatus(); len(st) != 1 || !st[0].Reused || !st[0].Asked || st[0].App != "a" {
			t.Errorf("status page's backends: %+v", st)
		}
		before := conns.Load()
		hammer(t, f, "/a/x", 4, 25)
		if n := conns.Load() - before; n > 4 {
			t.Errorf("100 requests used %d new connections", n)
		}
	})
	for _, tc := range []struct {
		name   string
		values []record.Pair
	}{
		{"FCGI_MAX_CONNS 1: not reused", []record.Pair{{Name: record.ValueMaxConns, Value: "1"}, {Name: record.ValueMpxsConns, Value: "0"}}},
		{"no answer: not reused", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be, conns := fewAtATime(t, dir, "one", 1, tc.values)
			f := front("", be)
			start := time.Now()
			hammer(t, f, "/a/x", 4, 10)
			if n := asked(f); n > 1 {
				t.Errorf("counted as serving %d connections", n)
			}
			if st := f.backendStatus(); len(st) != 1 || st[0].Reused || !st[0].Asked || st[0].MaxConns > 1 {
				t.Errorf("status page's backends: %+v", st)
			}
			hammer(t, f, "/a/x", 4, 10)
			if n := conns.Load(); n != 81 {
				t.Errorf("80 requests used %d connections, want 80 and one for GET_VALUES", n)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("80 requests took %v", d)
			}
		})
	}
	t.Run("FCGI_MAX_CONNS 2: reused, at most 2 open", func(t *testing.T) {
		be, conns := fewAtATime(t, dir, "two", 2, []record.Pair{{Name: record.ValueMaxConns, Value: "2"}})
		f := front("", be)
		hammer(t, f, "/a/x", 1, 1)
		if n := asked(f); n != 2 {
			t.Fatalf("counted as serving %d connections, want 2", n)
		}
		before := conns.Load()
		start := time.Now()
		hammer(t, f, "/a/x", 2, 25)
		if n := conns.Load() - before; n > 4 {
			t.Errorf("50 requests from two clients used %d new connections", n)
		}
		// More clients than the peer serves: the surplus connections
		// are closed, never kept, so nobody waits behind them.
		hammer(t, f, "/a/x", 6, 10)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("110 requests took %v", d)
		}
	})
}

// TestPHPCGIConcurrent sends concurrent requests to one php-cgi process
// with the default keep_conn: php-cgi serves one connection at a time,
// so none may wait behind an idle connection the front end keeps.
func TestPHPCGIConcurrent(t *testing.T) {
	php := testkit.NeedPeer(t, "php-cgi")
	if _, err := exec.LookPath(php); err != nil && !errors.Is(err, exec.ErrDot) {
		t.Skip(err)
	}
	dir := sockDir(t)
	sock := filepath.Join(dir, "php.sock")
	testkit.StartProc(t, exec.Command(php, "-n", "-b", sock), "")
	testkit.WaitSocket(t, sock)
	root := tree(t, map[string]string{"ok.php": "<?php echo 'ok';"})
	f := newFront(t, spec.Front{Root: root, FastCGI: spec.FastCGI{ResponseTimeoutMS: 5000},
		Apps: []spec.App{{Name: "php", Prefix: "/", CheckLocal: true, Backends: []string{"unix:" + sock}}}}, Options{})
	hammer(t, f, "/ok.php", 1, 1)
	b := f.apps[0].pool.Backends()[0]
	testkit.WaitFor(t, "GET_VALUES answer", 5*time.Second, func() bool { _, done := b.MaxConns(); return done })
	if n, _ := b.MaxConns(); n > 1 {
		t.Errorf("php-cgi counted as serving %d connections", n)
	}
	start := time.Now()
	hammer(t, f, "/ok.php", 4, 10)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("40 requests took %v", d)
	}
}
