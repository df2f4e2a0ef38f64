package fcgiserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/internal/testkit"
)

func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Path-Info", Param(r, "PATH_INFO"))
		fmt.Fprintf(w, "%s %s %s len=%d sha=%x", r.Method, r.URL.Path, r.Host, len(b), sha256.Sum256(b))
	})
}

func TestRequestResponse(t *testing.T) {
	_, path := testServer(t, echoHandler(), DefaultConfig())
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	tests := []struct {
		name   string
		params []record.Pair
		body   []byte
		want   string
	}{
		{"GET", getParams("/a/b?x=1"), nil, "GET /a/b example.test len=0"},
		{"POST 1 byte", postParams("/p", 1), []byte("x"), "POST /p example.test len=1"},
		{"POST 1 MiB", postParams("/p", len(big)), big, "POST /p example.test len=1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, path)
			sendRequest(t, c, 1, 0, tt.params, tt.body)
			r := readReplies(t, record.NewReader(c), 1)[1]
			if r.status() != "200 OK" || !strings.HasPrefix(r.body(), tt.want) {
				t.Errorf("got %q / %q, want 200 OK / %q", r.status(), r.body(), tt.want)
			}
			if want := fmt.Sprintf("sha=%x", sha256.Sum256(tt.body)); !strings.HasSuffix(r.body(), want) {
				t.Errorf("body digest mismatch: %q", r.body())
			}
			if r.header("Content-Length") != fmt.Sprint(len(r.body())) {
				t.Errorf("Content-Length %q for a %d-byte body", r.header("Content-Length"), len(r.body()))
			}
			if !r.stdoutClosed || r.ends != 1 || r.end.ProtocolStatus != record.StatusRequestComplete {
				t.Errorf("stdout closed %v, %d END_REQUEST, status %v", r.stdoutClosed, r.ends, r.end.ProtocolStatus)
			}
			expectClosed(t, c)
		})
	}
}

func TestKeepConnDrainsUnreadBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ignored the body")
	})
	_, path := testServer(t, h, DefaultConfig())
	c := dial(t, path)
	rd := record.NewReader(c)
	body := make([]byte, 300<<10) // more than the body buffer
	for id := uint16(1); id <= 3; id++ {
		sendRequest(t, c, id, record.FlagKeepConn, postParams("/", len(body)), body)
		if r := readReplies(t, rd, id)[id]; r.body() != "ignored the body" || r.ends != 1 {
			t.Fatalf("request %d: %q, %d END_REQUEST", id, r.body(), r.ends)
		}
	}
}

func TestGetValues(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxThreads = 7
	_, path := testServer(t, echoHandler(), cfg)
	tests := []struct {
		ask  []string
		want []record.Pair
	}{
		{[]string{record.ValueMpxsConns}, pairs(record.ValueMpxsConns, "0")},
		{[]string{record.ValueMaxConns, "FCGI_UNKNOWN", record.ValueMaxReqs},
			pairs(record.ValueMaxConns, "7", record.ValueMaxReqs, "7")},
		{nil, nil},
	}
	c := dial(t, path)
	rd := record.NewReader(c)
	for _, tt := range tests {
		w := record.NewWriter(c)
		w.WriteGetValues(tt.ask...)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		rec, err := rd.Next()
		if err != nil || rec.Type != record.TypeGetValuesResult || rec.RequestID != 0 {
			t.Fatalf("reply %+v, %v", rec.Header, err)
		}
		got, err := record.ParsePairs(rec.Content)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("asked %v, got %v (%v), want %v", tt.ask, got, err, tt.want)
		}
	}
	// The connection is kept: a request still works on it.
	sendRequest(t, c, 1, 0, getParams("/after"), nil)
	if r := readReplies(t, rd, 1)[1]; r.status() != "200 OK" {
		t.Errorf("request after GET_VALUES: %q", r.status())
	}
}

// TestResetBetweenRecordsIsQuiet: a peer that asks GET_VALUES and closes
// without reading the answer (as init's readiness probe does when it
// gave up waiting for a starting app) leaves a reset connection, which is
// the web server leaving, like EOF, and not logged.
func TestResetBetweenRecordsIsQuiet(t *testing.T) {
	var logged testkit.SyncBuffer
	_, path := testServerLog(t, echoHandler(), DefaultConfig(), log.New(&logged, "", 0))
	c := dial(t, path)
	w := record.NewWriter(c)
	w.WriteGetValues(record.ValueMaxConns)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the answer waits unread in c
	c.Close()
	// The same from a second connection, read this time: the server is
	// still serving, and its log stays empty.
	c2 := dial(t, path)
	w = record.NewWriter(c2)
	w.WriteGetValues(record.ValueMaxConns)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := record.NewReader(c2).Next(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if s := logged.String(); s != "" {
		t.Errorf("logged: %s", s)
	}
}

func TestManagementAndRoles(t *testing.T) {
	_, path := testServer(t, echoHandler(), DefaultConfig())
	tests := []struct {
		name     string
		send     []byte
		wantType record.Type
		check    func(record.Record) error
	}{
		{"unknown management type", record.AppendRecord(nil, 42, 0, nil), record.TypeUnknownType,
			func(r record.Record) error {
				if ty, _ := record.ParseUnknownType(r.Content); ty != 42 {
					return fmt.Errorf("UNKNOWN_TYPE names %v", ty)
				}
				return nil
			}},
		{"BEGIN_REQUEST with id 0", record.AppendBeginRequest(nil, 0, record.RoleResponder, 0), record.TypeUnknownType, nil},
		{"authorizer role", record.AppendBeginRequest(nil, 5, record.RoleAuthorizer, record.FlagKeepConn), record.TypeEndRequest,
			func(r record.Record) error {
				if er, _ := record.ParseEndRequest(r.Content); er.ProtocolStatus != record.StatusUnknownRole || r.RequestID != 5 {
					return fmt.Errorf("END_REQUEST %+v for id %d", er, r.RequestID)
				}
				return nil
			}},
		{"filter role", record.AppendBeginRequest(nil, 6, record.RoleFilter, 0), record.TypeEndRequest, nil},
	}
	c := dial(t, path)
	rd := record.NewReader(c)
	for _, tt := range tests {
		if _, err := c.Write(tt.send); err != nil {
			t.Fatal(err)
		}
		rec, err := rd.Next()
		if err != nil || rec.Type != tt.wantType {
			t.Fatalf("%s: got %v, %v; want %v", tt.name, rec.Type, err, tt.wantType)
		}
		if tt.check != nil {
			if err := tt.check(rec); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		}
	}
}

func TestNoMultiplexing(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, "first")
	})
	_, path := testServer(t, h, DefaultConfig())
	c := dial(t, path)
	rd := record.NewReader(c)
	sendRequest(t, c, 1, record.FlagKeepConn, getParams("/1"), nil)
	sendRequest(t, c, 2, record.FlagKeepConn, getParams("/2"), nil)
	second := readReplies(t, rd, 2)[2]
	if second.end.ProtocolStatus != record.StatusCantMpxConn || len(second.stdout) != 0 {
		t.Errorf("second request: %v, stdout %q", second.end.ProtocolStatus, second.stdout)
	}
	close(release)
	if first := readReplies(t, rd, 1)[1]; first.body() != "first" {
		t.Errorf("first request: %q", first.body())
	}
}

// cancelRecorder records the cause of each handler's context cancellation.
type cancelRecorder struct {
	started chan struct{}
	causes  chan error
}

func newCancelRecorder() *cancelRecorder {
	return &cancelRecorder{started: make(chan struct{}, 16), causes: make(chan error, 16)}
}

func (cr *cancelRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte("partial "))
	w.(http.Flusher).Flush()
	cr.started <- struct{}{}
	select {
	case <-r.Context().Done():
		cr.causes <- context.Cause(r.Context())
		_, err := w.Write([]byte("after cancel"))
		if err == nil {
			err = w.(interface{ FlushError() error }).FlushError()
		}
		if err == nil {
			cr.causes <- errors.New("write after cancel succeeded")
		}
	case <-time.After(10 * time.Second):
		cr.causes <- errors.New("not cancelled")
	}
}

func (cr *cancelRecorder) wait(t *testing.T, want error) {
	t.Helper()
	select {
	case got := <-cr.causes:
		if !errors.Is(got, want) {
			t.Errorf("cancel cause %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler not cancelled")
	}
	select {
	case err := <-cr.causes:
		t.Errorf("handler: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestAbortRequest(t *testing.T) {
	cr := newCancelRecorder()
	_, path := testServer(t, cr, DefaultConfig())
	c := dial(t, path)
	sendRequest(t, c, 1, record.FlagKeepConn, getParams("/"), nil)
	<-cr.started
	w := record.NewWriter(c)
	w.WriteAbortRequest(1)
	w.Flush()
	r := readReplies(t, record.NewReader(c), 1)[1]
	cr.wait(t, ErrAborted)
	if r.ends != 1 || r.body() != "partial " {
		t.Errorf("after abort: %d END_REQUEST, body %q", r.ends, r.body())
	}
}

func TestConnectionLossCancels(t *testing.T) {
	cr := newCancelRecorder()
	srv, path := testServer(t, cr, DefaultConfig())
	c := dial(t, path)
	sendRequest(t, c, 1, 0, getParams("/"), nil)
	<-cr.started
	c.Close()
	cr.wait(t, ErrConnClosed)
	testkit.WaitFor(t, "the condition", 10*time.Second, func() bool { return srv.Stats().Cancelled == 1 && srv.Stats().Conns == 0 })
}

func TestUnreadBodyWithoutKeepConn(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "early answer") })
	_, path := testServer(t, h, DefaultConfig())
	c := dial(t, path)
	body := make([]byte, 1<<20)
	sent := make(chan error, 1)
	go func() {
		w := record.NewWriter(c)
		w.WriteBeginRequest(1, record.RoleResponder, 0)
		w.WriteParams(1, postParams("/", len(body)))
		w.WriteStream(record.TypeStdin, 1, body)
		w.CloseStream(record.TypeStdin, 1)
		sent <- w.Flush()
	}()
	r := readReplies(t, record.NewReader(c), 1)[1]
	if r.body() != "early answer" || r.ends != 1 {
		t.Errorf("reply %q, %d END_REQUEST", r.body(), r.ends)
	}
	// The server drains the body it did not read instead of resetting.
	if err := <-sent; err != nil {
		t.Errorf("sending the body after the answer: %v", err)
	}
	expectClosed(t, c)
}

func TestAbortBeforeParamsEnd(t *testing.T) {
	ran := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran <- struct{}{} })
	srv, path := testServer(t, h, DefaultConfig())
	c := dial(t, path)
	w := record.NewWriter(c)
	w.WriteBeginRequest(1, record.RoleResponder, record.FlagKeepConn)
	w.WriteStream(record.TypeParams, 1, record.AppendPair(nil, "REQUEST_METHOD", "GET"))
	w.WriteAbortRequest(1)
	w.CloseStream(record.TypeParams, 1)
	w.CloseStream(record.TypeStdin, 1)
	w.Flush()
	r := readReplies(t, record.NewReader(c), 1)[1]
	if r.ends != 1 || len(r.stdout) != 0 {
		t.Errorf("%d END_REQUEST, stdout %q", r.ends, r.stdout)
	}
	select {
	case <-ran:
		t.Error("handler ran for an aborted request")
	case <-time.After(50 * time.Millisecond):
	}
	if st := srv.Stats(); st.Served != 0 || st.Cancelled != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestWritesFailOnceCancelled(t *testing.T) {
	got := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		_, err := w.Write([]byte("x")) // small: would only be buffered
		got <- err
	})
	_, path := testServer(t, h, DefaultConfig())
	c := dial(t, path)
	sendRequest(t, c, 1, record.FlagKeepConn, getParams("/"), nil)
	w := record.NewWriter(c)
	time.Sleep(20 * time.Millisecond)
	w.WriteAbortRequest(1)
	w.Flush()
	readReplies(t, record.NewReader(c), 1)
	if err := <-got; !errors.Is(err, ErrFinished) {
		t.Errorf("write after cancellation: %v, want ErrFinished", err)
	}
}
