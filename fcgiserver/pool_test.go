package fcgiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/internal/testkit"
)

func TestOverloaded(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Done()
		<-release
	})
	cfg := DefaultConfig()
	cfg.MinSpare, cfg.MaxSpare, cfg.MaxThreads = 1, 2, 2
	srv, path := testServer(t, h, cfg)
	conns := make([]net.Conn, 2)
	for i := range conns {
		conns[i] = dial(t, path)
		sendRequest(t, conns[i], 1, 0, getParams("/"), nil)
	}
	started.Wait()
	r := do(t, path, getParams("/third"), nil)
	if r.end.ProtocolStatus != record.StatusOverloaded || r.status() != "503 Service Unavailable" || r.ends != 1 {
		t.Errorf("third request: %v, %q, %d END_REQUEST", r.end.ProtocolStatus, r.status(), r.ends)
	}
	if st := srv.Stats(); st.Busy != 2 || st.Overloaded != 1 {
		t.Errorf("stats %+v", st)
	}
	close(release)
	for _, c := range conns {
		if r := readReplies(t, record.NewReader(c), 1)[1]; r.status() != "200 OK" {
			t.Errorf("blocked request: %q", r.status())
		}
	}
}

func TestSpares(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	cfg := DefaultConfig()
	cfg.MinSpare, cfg.MaxSpare, cfg.MaxThreads = 2, 3, 10
	srv, path := testServer(t, h, cfg)
	testkit.WaitFor(t, "the condition", 10*time.Second, func() bool { st := srv.Stats(); return st.Idle == 2 && st.Workers == 2 })
	conns := make([]net.Conn, 8)
	for i := range conns {
		conns[i] = dial(t, path)
		sendRequest(t, conns[i], 1, 0, getParams("/"), nil)
	}
	// Eight busy, and spares refilled to MinSpare within MaxThreads.
	testkit.WaitFor(t, "the condition", 10*time.Second, func() bool { st := srv.Stats(); return st.Busy == 8 && st.Idle == 2 && st.Workers == 10 })
	close(release)
	for _, c := range conns {
		readReplies(t, record.NewReader(c), 1)
	}
	// Back to idle: at most MaxSpare workers stay.
	testkit.WaitFor(t, "the condition", 10*time.Second, func() bool { st := srv.Stats(); return st.Busy == 0 && st.Idle == 3 && st.Workers == 3 })
}

func TestSlowBodyReaderDoesNotBlockOthers(t *testing.T) {
	stuck := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stuck" {
			<-stuck // never reads its body
		}
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	_, path := testServer(t, h, DefaultConfig())
	slow := dial(t, path)
	big := make([]byte, 4<<20)
	go func() {
		w := record.NewWriter(slow)
		w.WriteBeginRequest(1, record.RoleResponder, 0)
		w.WriteParams(1, postParams("/stuck", len(big)))
		w.Flush()
		w.WriteStream(record.TypeStdin, 1, big) // blocks: nobody reads
		w.CloseStream(record.TypeStdin, 1)
		w.Flush()
	}()
	for i := range 5 {
		if r := do(t, path, postParams("/other", 100000), make([]byte, 100000)); r.body() != "100000" {
			t.Fatalf("request %d beside the stuck one: %q", i, r.body())
		}
	}
	close(stuck)
	if r := readReplies(t, record.NewReader(slow), 1)[1]; r.body() != fmt.Sprint(len(big)) {
		t.Errorf("stuck request finally read %q bytes", r.body())
	}
}

func TestStreamingResponse(t *testing.T) {
	next := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusAccepted)
		for i := range 3 {
			fmt.Fprintf(w, "event %d\n", i)
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush: %v", err)
			}
			<-next
		}
	})
	_, path := testServer(t, h, DefaultConfig())
	c := dial(t, path)
	sendRequest(t, c, 1, 0, getParams("/"), nil)
	rd := record.NewReader(c)
	var got []byte
	for i := range 3 {
		for !bytes.Contains(got, []byte(fmt.Sprintf("event %d\n", i))) {
			rec, err := rd.Next()
			if err != nil || rec.Type != record.TypeStdout {
				t.Fatalf("waiting for event %d: %v %v", i, rec.Type, err)
			}
			got = append(got, rec.Content...)
		}
		next <- struct{}{}
	}
	if !strings.HasPrefix(string(got), "Status: 202 Accepted\r\n") || strings.Contains(string(got), "Content-Length") {
		t.Errorf("streamed head: %q", got)
	}
}

func TestLargeResponse(t *testing.T) {
	want := bytes.Repeat([]byte("fcgi"), 1<<20) // 4 MiB
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 100000)
			w.Write(rest[:n])
			rest = rest[n:]
		}
	})
	_, path := testServer(t, h, DefaultConfig())
	r := do(t, path, getParams("/big"), nil)
	if !bytes.Equal([]byte(r.body()), want) || r.header("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("got %d bytes, Content-Type %q", len(r.body()), r.header("Content-Type"))
	}
}

func TestRequestTimeout(t *testing.T) {
	cr := newCancelRecorder()
	cfg := DefaultConfig()
	cfg.RequestTimeout = 200 * time.Millisecond
	_, path := testServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		cr.causes <- context.Cause(r.Context())
		if _, ok := r.Context().Deadline(); !ok {
			cr.causes <- errors.New("no deadline on the request context")
		}
	}), cfg)
	r := do(t, path, getParams("/"), nil)
	cr.wait(t, ErrRequestTimeout)
	if r.status() != "503 Service Unavailable" || r.ends != 1 || !strings.Contains(r.body(), "timeout") {
		t.Errorf("timed-out request: %q %q, %d END_REQUEST", r.status(), r.body(), r.ends)
	}
}

func TestMaxRequestsRecycles(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxRequests = 3
	srv, err := New(echoHandler(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	for range 3 {
		if r := do(t, path, getParams("/"), nil); r.status() != "200 OK" {
			t.Fatalf("status %q", r.status())
		}
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrRecycled) {
			t.Errorf("Serve = %v, want ErrRecycled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not recycle")
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Error("still accepting after recycling")
	}
}

func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		fmt.Fprint(w, "finished")
	})
	srv, err := New(h, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s")
	ln, _ := net.Listen("unix", path)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	c := dial(t, path)
	sendRequest(t, c, 1, 0, getParams("/"), nil)
	<-started
	idle := dial(t, path) // accepted and idle: a GET_VALUES went through
	w := record.NewWriter(idle)
	w.WriteGetValues(record.ValueMpxsConns)
	w.Flush()
	if _, err := record.NewReader(idle).Next(); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	expectClosed(t, idle)
	time.AfterFunc(100*time.Millisecond, func() { close(release) })
	if r := readReplies(t, record.NewReader(c), 1)[1]; r.body() != "finished" {
		t.Errorf("in-flight request got %q", r.body())
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
}

func TestShutdownGraceCancels(t *testing.T) {
	cr := newCancelRecorder()
	cfg := DefaultConfig()
	cfg.ShutdownGrace = 100 * time.Millisecond
	srv, path := testServer(t, cr, cfg)
	c := dial(t, path)
	sendRequest(t, c, 1, 0, getParams("/"), nil)
	<-cr.started
	go srv.Shutdown(context.Background())
	r := readReplies(t, record.NewReader(c), 1)[1]
	cr.wait(t, ErrShutdown)
	if r.ends != 1 {
		t.Errorf("%d END_REQUEST", r.ends)
	}
}
