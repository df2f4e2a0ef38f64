package fcgiserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// testServer serves h on a unix socket in a temporary directory.
func testServer(t *testing.T, h http.Handler, cfg Config) (*Server, string) {
	t.Helper()
	return testServerLog(t, h, cfg, testLogger(t))
}

// testServerLog is testServer with its error log going to logger.
func testServerLog(t *testing.T, h http.Handler, cfg Config, logger *log.Logger) (*Server, string) {
	t.Helper()
	srv, err := New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.ErrorLog = logger
	path := filepath.Join(t.TempDir(), "fcgi.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) && !errors.Is(err, ErrRecycled) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return srv, path
}

func dial(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func getParams(uri string) []record.Pair {
	path, query, _ := strings.Cut(uri, "?")
	return pairs("REQUEST_METHOD", "GET", "SERVER_PROTOCOL", "HTTP/1.1",
		"REQUEST_URI", uri, "SCRIPT_NAME", "", "PATH_INFO", path, "QUERY_STRING", query,
		"HTTP_HOST", "example.test", "REMOTE_ADDR", "192.0.2.1", "REMOTE_PORT", "4711")
}

// pairs makes name-value pairs from alternating names and values.
func pairs(kv ...string) []record.Pair {
	var p []record.Pair
	for i := 0; i+1 < len(kv); i += 2 {
		p = append(p, record.Pair{Name: kv[i], Value: kv[i+1]})
	}
	return p
}

func postParams(uri string, n int) []record.Pair {
	p := getParams(uri)
	p[0].Value = "POST"
	return append(p, pairs("CONTENT_LENGTH", strconv.Itoa(n), "CONTENT_TYPE", "application/octet-stream")...)
}

// sendRequest writes a whole request: BEGIN, PARAMS, STDIN.
func sendRequest(t *testing.T, c net.Conn, id uint16, flags record.Flags, params []record.Pair, body []byte) {
	t.Helper()
	w := record.NewWriter(c)
	w.WriteBeginRequest(id, record.RoleResponder, flags)
	w.WriteParams(id, params)
	w.WriteStream(record.TypeStdin, id, body)
	w.CloseStream(record.TypeStdin, id)
	if err := w.Flush(); err != nil {
		t.Fatalf("sending request %d: %v", id, err)
	}
}

// reply is what came back for one request.
type reply struct {
	stdout, stderr []byte
	end            record.EndRequest
	ends           int
	stdoutClosed   bool
}

func (r reply) status() string {
	head, _, _ := strings.Cut(string(r.stdout), "\r\n")
	return strings.TrimPrefix(head, "Status: ")
}

func (r reply) body() string {
	_, b, _ := strings.Cut(string(r.stdout), "\r\n\r\n")
	return b
}

func (r reply) header(name string) string {
	head, _, _ := strings.Cut(string(r.stdout), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// readReplies reads records until every id in ids got END_REQUEST.
func readReplies(t *testing.T, rd *record.Reader, ids ...uint16) map[uint16]*reply {
	t.Helper()
	out := make(map[uint16]*reply)
	for _, id := range ids {
		out[id] = &reply{}
	}
	for pending := len(ids); pending > 0; {
		rec, err := rd.Next()
		if err != nil {
			t.Fatalf("reading replies: %v", err)
		}
		r := out[rec.RequestID]
		if r == nil {
			t.Fatalf("record %v for unexpected request %d", rec.Type, rec.RequestID)
		}
		if (record.HeaderLen+int(rec.ContentLength)+int(rec.PaddingLength))%8 != 0 {
			t.Errorf("%v record of %d bytes is not padded to 8", rec.Type, rec.ContentLength)
		}
		switch rec.Type {
		case record.TypeStdout:
			r.stdout = append(r.stdout, rec.Content...)
			r.stdoutClosed = len(rec.Content) == 0
		case record.TypeStderr:
			r.stderr = append(r.stderr, rec.Content...)
		case record.TypeEndRequest:
			r.end, _ = record.ParseEndRequest(rec.Content)
			r.ends++
			pending--
		default:
			t.Fatalf("unexpected %v record", rec.Type)
		}
	}
	return out
}

// do runs one request on a new connection.
func do(t *testing.T, path string, params []record.Pair, body []byte) *reply {
	t.Helper()
	c := dial(t, path)
	sendRequest(t, c, 1, 0, params, body)
	return readReplies(t, record.NewReader(c), 1)[1]
}

// expectClosed checks the server closed c with nothing more to read.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 64))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("after the reply: read %d bytes, %v; want EOF", n, err)
	}
}

// testLogger logs to t until the test ends, then drops messages, since
// connection goroutines may still log while they exit.
func testLogger(t *testing.T) *log.Logger {
	w := &logWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return log.New(w, "", 0)
}

type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}
