package python

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/internal/testkit"
)

// bodyHas stops readUntil once the response body contains s.
func bodyHas(s string) func(*reply) bool {
	return func(r *reply) bool { return strings.Contains(r.body(), s) }
}

// release wakes the app's /wait?k=name (or /noread) on another connection.
func release(t *testing.T, s *server, name string) {
	t.Helper()
	if r := roundTrip(t, s.sock, params("GET", "/release?k="+name), []byte{}); r.body() != "ok\n" {
		t.Fatalf("release %s: %q", name, r.body())
	}
}

// waitFor blocks until the app set its event name.
func waitFor(t *testing.T, s *server, name string) {
	t.Helper()
	if r := roundTrip(t, s.sock, params("GET", "/waitfor?k="+name), []byte{}); r.status() != "200 OK" {
		t.Fatalf("waiting for %s: %q", name, r.status())
	}
}

// TestStreaming proves both directions stream: the first chunk of a
// response arrives while the app is blocked (it only goes on when the
// test releases it), and the app sees the start of a body before the rest
// of it is sent.
func TestStreaming(t *testing.T) {
	s := startServer(t)
	t.Run("response", func(t *testing.T) {
		c := dial(t, s.sock)
		rd := record.NewReader(c)
		begin(t, c, 1, 0, params("GET", "/wait?k=stream"), []byte{})
		r := &reply{}
		if err := readUntil(t, rd, 1, r, bodyHas("waiting\n")); err != nil || r.end != nil {
			t.Fatalf("first chunk: %q, END %v, %v", r.body(), r.end, err)
		}
		release(t, s, "stream")
		if err := readUntil(t, rd, 1, r, nil); err != nil || r.body() != "waiting\nreleased\n" || r.header("Content-Length") != "" {
			t.Errorf("streamed body %q (Content-Length %q), %v", r.body(), r.header("Content-Length"), err)
		}
		complete(t, "streamed response", r)
	})
	t.Run("request body", func(t *testing.T) {
		c := dial(t, s.sock)
		rd := record.NewReader(c)
		begin(t, c, 1, 0, params("POST", "/first"), nil)
		w := record.NewWriter(c)
		w.WriteStream(record.TypeStdin, 1, []byte("xline\n"))
		w.Flush()
		r := &reply{}
		if err := readUntil(t, rd, 1, r, bodyHas("first 6\n")); err != nil || r.end != nil {
			t.Fatalf("the app did not see the first part of the body: %q, %v", r.body(), err)
		}
		rest := bytes.Repeat([]byte("y"), 1<<20)
		w.WriteStream(record.TypeStdin, 1, rest)
		w.CloseStream(record.TypeStdin, 1)
		w.Flush()
		if err := readUntil(t, rd, 1, r, nil); err != nil || r.body() != "first 6\ntotal 1048582\n" {
			t.Errorf("body %q, %v", r.body(), err)
		}
	})
	t.Run("unread body is bounded", func(t *testing.T) {
		c := dial(t, s.sock)
		begin(t, c, 1, 0, params("POST", "/noread?k=bound"), nil)
		var sent atomic.Int64
		done := make(chan error, 1)
		go func() {
			chunk := record.AppendStream(nil, record.TypeStdin, 1, make([]byte, 64<<10))
			c.SetWriteDeadline(time.Now().Add(3 * time.Second))
			for sent.Load() < 64<<20 {
				n, err := c.Write(chunk)
				sent.Add(int64(n))
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		// The writer stops when the server stops reading; a server that
		// buffered everything would take all 64 MiB.
		err := <-done
		if !errors.Is(err, os.ErrDeadlineExceeded) || sent.Load() > 16<<20 {
			t.Errorf("a client pushed %d bytes to an app that reads nothing (%v)", sent.Load(), err)
		}
		if st, err := testkit.ProcStatusKB(s.cmd.Process.Pid); err != nil || st["VmRSS"] > 64<<10 {
			t.Errorf("server RSS %d KiB (%v)", st["VmRSS"], err)
		}
		release(t, s, "bound")
		r := &reply{}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := readUntil(t, record.NewReader(c), 1, r, nil); err != nil || r.body() != "did not read\n" {
			t.Errorf("after release: %q, %v", r.body(), err)
		}
	})
}

// TestAbort sends FCGI_ABORT_REQUEST to a running request (kept
// connection): END_REQUEST comes at once, nothing the app writes later
// goes out, and the connection serves the next request. A request aborted
// before its PARAMS ended is ended too, and a second request on a busy
// connection gets FCGI_CANT_MPX_CONN.
func TestAbort(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.sock)
	rd := record.NewReader(c)
	begin(t, c, 1, record.FlagKeepConn, params("GET", "/wait?k=abort"), []byte{})
	r := &reply{}
	if err := readUntil(t, rd, 1, r, bodyHas("waiting\n")); err != nil {
		t.Fatal(err)
	}
	begin(t, c, 2, record.FlagKeepConn, params("GET", "/hello"), []byte{})
	rec, err := rd.Next()
	if end, _ := record.ParseEndRequest(rec.Content); err != nil || rec.RequestID != 2 || end.ProtocolStatus != record.StatusCantMpxConn {
		t.Errorf("second request on a busy connection: %v %+v %v", rec.Header, end, err)
	}
	c.Write(record.AppendAbortRequest(nil, 1))
	if err := readUntil(t, rd, 1, r, nil); err != nil {
		t.Fatal(err)
	}
	complete(t, "aborted request", r)
	release(t, s, "abort")
	waitFor(t, s, "abort.closed") // the app tried to go on, and was closed
	begin(t, c, 3, record.FlagKeepConn, params("GET", "/hello"), []byte{})
	r3 := &reply{}
	if err := readUntil(t, rd, 3, r3, nil); err != nil || r3.body() != "hello\n" {
		t.Errorf("request after the abort: %q %v", r3.body(), err)
	}
	if r.body() != "waiting\n" {
		t.Errorf("aborted request's body %q", r.body())
	}

	w := record.NewWriter(c)
	w.WriteBeginRequest(4, record.RoleResponder, record.FlagKeepConn)
	w.WriteStream(record.TypeParams, 4, record.AppendPair(nil, "REQUEST_METHOD", "GET"))
	w.WriteAbortRequest(4)
	w.Flush()
	r4 := &reply{}
	if err := readUntil(t, rd, 4, r4, nil); err != nil || r4.end.ProtocolStatus != record.StatusRequestComplete || len(r4.stdout) != 0 {
		t.Errorf("abort during PARAMS: %+v %q %v", r4.end, r4.stdout, err)
	}
}

// TestOverload fills FCGI_MAX_THREADS=2 with blocked requests: a third
// gets a 503 with Retry-After and FCGI_OVERLOADED, and once they finish
// the server takes requests again.
func TestOverload(t *testing.T) {
	s := startServer(t, "FCGI_MAX_THREADS=2", "FCGI_MIN_SPARE=0", "FCGI_MAX_SPARE=1")
	var waiting []*record.Reader
	flag := filepath.Join(filepath.Dir(s.sock), "go")
	for i := range 2 {
		c := dial(t, s.sock)
		rd := record.NewReader(c)
		begin(t, c, 1, 0, params("GET", "/wait?f="+flag), []byte{})
		if err := readUntil(t, rd, 1, &reply{}, bodyHas("waiting\n")); err != nil {
			t.Fatalf("blocked request %d: %v", i, err)
		}
		waiting = append(waiting, rd)
	}
	r := roundTrip(t, s.sock, params("GET", "/hello"), []byte{})
	if r.end == nil || r.end.ProtocolStatus != record.StatusOverloaded || r.status() != "503 Service Unavailable" || r.header("Retry-After") == "" {
		t.Errorf("request beyond maxThreads: END %+v, %q, Retry-After %q", r.end, r.status(), r.header("Retry-After"))
	}
	// A release request would be refused too: the app waits for a file.
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, rd := range waiting {
		r := &reply{}
		if err := readUntil(t, rd, 1, r, nil); err != nil || string(r.stdout) != "released\n" {
			t.Errorf("blocked request %d: %q %v", i, r.stdout, err)
		}
	}
	if r := roundTrip(t, s.sock, params("GET", "/hello"), []byte{}); r.body() != "hello\n" {
		t.Errorf("after the burst: %q", r.body())
	}
}
