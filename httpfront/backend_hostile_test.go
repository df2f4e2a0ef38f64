package httpfront

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/spec"
)

// hostileReq is one request a keepBackend read: its number on the
// backend (1, 2, ...), its connection's number, its request id and params.
type hostileReq struct {
	n, conn int
	id      uint16
	params  map[string]string
}

// keepBackend is a FastCGI peer that serves requests one after another on
// each connection for as long as serve returns true and the client asked
// to keep the connection, then holds it open until the front end closes
// it, and sends the connection's number to closed.
func keepBackend(t *testing.T, dir, name string, serve func(c net.Conn, w *record.Writer, q hostileReq) bool) (string, chan int) {
	t.Helper()
	ln, p := listenUnix(t, dir, name)
	closed := make(chan int, 100)
	var reqs, conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cn := int(conns.Add(1))
			go func() {
				defer c.Close()
				rd, w := record.NewReader(c), record.NewWriter(c)
				for {
					id, keep, params, err := readRequestOn(rd)
					if err != nil { // EOF, or ECONNRESET when stray bytes were left unread
						closed <- cn
						return
					}
					q := hostileReq{n: int(reqs.Add(1)), conn: cn, id: id, params: params}
					if !serve(c, w, q) || !keep {
						break
					}
				}
				// Held open until the front end closes it.
				_, _ = io.Copy(io.Discard, c)
				closed <- cn
			}()
		}
	}()
	return "unix:" + p, closed
}

// readRequestOn reads one request (BEGIN_REQUEST, PARAMS, STDIN) from rd.
func readRequestOn(rd *record.Reader) (id uint16, keep bool, params map[string]string, err error) {
	params = map[string]string{}
	var enc []byte
	for {
		rec, err := rd.Next()
		if err != nil {
			return 0, false, nil, err
		}
		switch rec.Type {
		case record.TypeBeginRequest:
			br, _ := record.ParseBeginRequest(rec.Content)
			id, keep = rec.RequestID, br.KeepConn()
		case record.TypeParams:
			if len(rec.Content) == 0 {
				pairs, err := record.ParsePairs(enc)
				if err != nil {
					return 0, false, nil, err
				}
				for _, p := range pairs {
					params[p.Name] = p.Value
				}
			}
			enc = append(enc, rec.Content...)
		case record.TypeStdin:
			if len(rec.Content) == 0 {
				return id, keep, params, nil
			}
		}
	}
}

// ownAnswer answers a request with its own URI, under its own id.
func ownAnswer(w *record.Writer, q hostileReq) bool {
	return replyID(w, q.id, "Content-Type: text/plain\r\n\r\nown "+q.params["REQUEST_URI"], "") == nil
}

// waitClosed waits until the backend saw connection cn closed.
func waitClosed(t *testing.T, closed chan int, cn int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case n := <-closed:
			if n == cn {
				return
			}
		case <-deadline:
			t.Fatalf("the front end did not close backend connection %d", cn)
		}
	}
}

func hostileFront(t *testing.T, be string, fc spec.FastCGI) *Front {
	if fc.ResponseTimeoutMS == 0 {
		fc.ResponseTimeoutMS = 3000
	}
	return newFront(t, spec.Front{Root: tree(t, map[string]string{"index.html": "x"}),
		Apps: []spec.App{{Name: "a", Prefix: "/a", Backends: []string{be}, FastCGI: fc}}}, Options{})
}

// wantOwn serves GET target and wants the backend's answer for it.
func wantOwn(t *testing.T, f http.Handler, target string) {
	t.Helper()
	w := do(t, f, "GET", target, nil)
	if w.Code != 200 || w.Body.String() != "own "+target {
		t.Fatalf("GET %s: %d %q, want 200 %q", target, w.Code, w.Body.String(), "own "+target)
	}
}

// A response header that never ends is cut at the bound: the client gets
// 502 at once (not a 504 after the response timeout, with the whole
// header buffered), the backend connection is closed, and the next client
// gets its own response.
func TestHostileHugeHeader(t *testing.T) {
	mib := 1 << 20
	line := "X-Big: " + strings.Repeat("a", mib) // one line, no newline
	lines := strings.Repeat("X-A: "+strings.Repeat("b", 100)+"\r\n", mib/107)
	for _, tc := range []struct{ name, header string }{{"one long line", line}, {"many lines", lines}} {
		t.Run(tc.name, func(t *testing.T) {
			be, closed := keepBackend(t, sockDir(t), "big", func(c net.Conn, w *record.Writer, q hostileReq) bool {
				if q.params["REQUEST_URI"] != "/a/big" {
					return ownAnswer(w, q)
				}
				_ = w.WriteStream(record.TypeStdout, q.id, []byte(tc.header))
				_ = w.Flush()
				return false // ... and never a blank line
			})
			f := hostileFront(t, be, spec.FastCGI{KeepConn: "on"})
			start := time.Now()
			if w := do(t, f, "GET", "/a/big", nil); w.Code != 502 {
				t.Fatalf("1 MiB header: status %d after %v, want 502", w.Code, time.Since(start))
			}
			waitClosed(t, closed, 1)
			wantOwn(t, f, "/a/next")
		})
	}
}

// The bound is exact: a header block of MaxHeaderBytes passes, one byte
// more is a 502.
func TestHostileHeaderBound(t *testing.T) {
	const bound = 1000
	mk := func(n int) string { // a header block of exactly n bytes
		h := "Content-Type: text/plain\r\nX-Pad: "
		return h + strings.Repeat("p", n-len(h)-4) + "\r\n\r\n"
	}
	be, _ := keepBackend(t, sockDir(t), "edge", func(c net.Conn, w *record.Writer, q hostileReq) bool {
		n := map[string]int{"/a/at": bound, "/a/over": bound + 1}[q.params["REQUEST_URI"]]
		return replyID(w, q.id, mk(n)+"body", "") == nil
	})
	f := hostileFront(t, be, spec.FastCGI{MaxHeaderBytes: bound})
	if w := do(t, f, "GET", "/a/at", nil); w.Code != 200 || w.Body.String() != "body" {
		t.Errorf("header of %d bytes (the bound): %d %q", bound, w.Code, w.Body.String())
	}
	if w := do(t, f, "GET", "/a/over", nil); w.Code != 502 {
		t.Errorf("header of %d bytes: %d, want 502", bound+1, w.Code)
	}
	if n := mergeFastCGI(spec.FastCGI{MaxHeaderBytes: 5}, spec.FastCGI{}).MaxHeaderBytes; n != 5 {
		t.Errorf("an app without max_header_bytes got %d, want the front end's 5", n)
	}
	if n := mergeFastCGI(spec.FastCGI{MaxHeaderBytes: 5}, spec.FastCGI{MaxHeaderBytes: 7}).MaxHeaderBytes; n != 7 {
		t.Errorf("an app's own max_header_bytes gave %d, want 7", n)
	}
}

// A STDOUT record that comes after END_REQUEST, while the connection is
// idle, never reaches the next client: the connection is dropped when it
// is taken from the pool, and the next client gets its own response.
func TestHostileStrayWhileIdle(t *testing.T) {
	strayed := make(chan struct{})
	be, closed := keepBackend(t, sockDir(t), "stray", func(c net.Conn, w *record.Writer, q hostileReq) bool {
		ok := ownAnswer(w, q)
		if q.n == 1 {
			time.Sleep(20 * time.Millisecond) // after the front end kept the connection
			_ = w.WriteStream(record.TypeStdout, q.id, []byte("Content-Type: text/plain\r\n\r\nSTRAY"))
			_ = w.CloseStream(record.TypeStdout, q.id)
			_ = w.WriteEndRequest(q.id, 0, record.StatusRequestComplete)
			_ = w.Flush()
			close(strayed)
		}
		return ok
	})
	f := hostileFront(t, be, spec.FastCGI{KeepConn: "on"})
	wantOwn(t, f, "/a/one")
	<-strayed
	time.Sleep(50 * time.Millisecond) // the stray bytes wait in the socket
	wantOwn(t, f, "/a/two")
	waitClosed(t, closed, 1)
	wantOwn(t, f, "/a/three")
}

// A stray STDOUT record of the previous request that arrives after the
// next request was sent on the reused connection is not taken for its
// answer: that client gets its own response (retried on a new
// connection) or a 502, never the stray bytes; the connection is closed.
func TestHostileStrayInFlight(t *testing.T) {
	var prev atomic.Uint32
	be, closed := keepBackend(t, sockDir(t), "race", func(c net.Conn, w *record.Writer, q hostileReq) bool {
		if q.n == 2 { // the previous request's leftovers, then the answer
			old := uint16(prev.Load())
			_ = w.WriteStream(record.TypeStdout, old, []byte("Content-Type: text/plain\r\n\r\nSTRAY"))
			_ = w.CloseStream(record.TypeStdout, old)
			_ = w.WriteEndRequest(old, 0, record.StatusRequestComplete)
		}
		prev.Store(uint32(q.id))
		return ownAnswer(w, q)
	})
	f := hostileFront(t, be, spec.FastCGI{KeepConn: "on"})
	wantOwn(t, f, "/a/one")
	w := do(t, f, "GET", "/a/two", nil)
	if strings.Contains(w.Body.String(), "STRAY") || (w.Code != 502 && w.Body.String() != "own /a/two") {
		t.Fatalf("second client: %d %q, want its own answer or 502", w.Code, w.Body.String())
	}
	waitClosed(t, closed, 1)
	wantOwn(t, f, "/a/three")
}

// Records that do not belong to the request in flight are a broken
// backend: 502 at once, the connection closed; the next client is fine.
func TestHostileRecords(t *testing.T) {
	good := func(id uint16) []byte {
		b := record.AppendRecord(nil, record.TypeStdout, id, []byte("Content-Type: text/plain\r\n\r\nok"))
		b = record.AppendRecord(b, record.TypeStdout, id, nil)
		return record.AppendEndRequest(b, id, 0, record.StatusRequestComplete)
	}
	tests := []struct {
		name string
		send func(id uint16) []byte
	}{
		{"wrong request id", func(id uint16) []byte { return good(id + 1) }},
		{"request id 0", func(id uint16) []byte { return good(0) }},
		{"wrong id, then right", func(id uint16) []byte {
			return append(record.AppendRecord(nil, record.TypeStdout, id+7, []byte("Status: 200\r\n\r\nother")), good(id)...)
		}},
		{"management record", func(id uint16) []byte {
			return append(record.AppendRecord(nil, record.TypeGetValuesResult, 0, nil), good(id)...)
		}},
		{"unknown type", func(id uint16) []byte { return append(record.AppendRecord(nil, 42, id, []byte("x")), good(id)...) }},
		{"STDIN from the app", func(id uint16) []byte {
			return append(record.AppendRecord(nil, record.TypeStdin, id, []byte("x")), good(id)...)
		}},
		{"STDOUT after its end", func(id uint16) []byte {
			b := record.AppendRecord(nil, record.TypeStdout, id, []byte("Content-Type: text/plain\r\n\r\nok"))
			b = record.AppendRecord(b, record.TypeStdout, id, nil)
			b = record.AppendRecord(b, record.TypeStdout, id, []byte("more"))
			return record.AppendEndRequest(b, id, 0, record.StatusRequestComplete)
		}},
		{"short END_REQUEST", func(id uint16) []byte {
			b := record.AppendRecord(nil, record.TypeStdout, id, []byte("Content-Type: text/plain\r\n\r\n"))
			return append(b, record.AppendRecord(nil, record.TypeEndRequest, id, []byte{0, 0})...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be, closed := keepBackend(t, sockDir(t), "rec", func(c net.Conn, w *record.Writer, q hostileReq) bool {
				if q.params["REQUEST_URI"] != "/a/bad" {
					return ownAnswer(w, q)
				}
				_, _ = c.Write(tc.send(q.id))
				return false
			})
			f := hostileFront(t, be, spec.FastCGI{KeepConn: "on"})
			srv := httptest.NewServer(f)
			defer srv.Close()
			code, body, err := getCut(srv.URL + "/a/bad")
			if code != 502 && err == nil {
				t.Fatalf("status %d %q, want 502 (or a cut response)", code, body)
			}
			waitClosed(t, closed, 1)
			wantOwn(t, f, "/a/next")
		})
	}
}

// getCut fetches url; err is set when the response was cut.
func getCut(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Request ids change from one request to the next on a kept connection
// and are never 0.
func TestRequestIDsPerConnection(t *testing.T) {
	ids := make(chan uint16, 10)
	conns := make(chan int, 10)
	be, _ := keepBackend(t, sockDir(t), "ids", func(c net.Conn, w *record.Writer, q hostileReq) bool {
		ids <- q.id
		conns <- q.conn
		return ownAnswer(w, q)
	})
	f := hostileFront(t, be, spec.FastCGI{KeepConn: "on"})
	var got []uint16
	for _, p := range []string{"/a/1", "/a/2", "/a/3"} {
		wantOwn(t, f, p)
		got = append(got, <-ids)
		if c := <-conns; c != 1 {
			t.Fatalf("request %s on backend connection %d, want the kept one", p, c)
		}
	}
	if got[0] == 0 || got[0] == got[1] || got[1] == got[2] || got[1] == 0 || got[2] == 0 {
		t.Errorf("request ids on one connection: %v", got)
	}
}

// A cut response: the app breaks the protocol after the header went out,
// so the client's connection is closed before the response is complete.
func TestHostileAfterHeaderCutsResponse(t *testing.T) {
	be, _ := keepBackend(t, sockDir(t), "cut", func(c net.Conn, w *record.Writer, q hostileReq) bool {
		b := record.AppendRecord(nil, record.TypeStdout, q.id, []byte("Content-Type: text/plain\r\nContent-Length: 10\r\n\r\nhello"))
		b = record.AppendRecord(b, record.TypeStdout, q.id+1, []byte("WORLD"))
		_, _ = c.Write(b)
		return false
	})
	f := hostileFront(t, be, spec.FastCGI{KeepConn: "on"})
	srv := httptest.NewServer(f)
	defer srv.Close()
	_, body, err := getCut(srv.URL + "/a/x")
	if err == nil || strings.Contains(body, "WORLD") {
		t.Errorf("body %q, err %v: want a cut response without the other request's bytes", body, err)
	}
}

// A member that answers FCGI_OVERLOADED after the request's body went to
// it: the request is not retried on another member with the body already
// consumed (the next one got CONTENT_LENGTH 5 and an empty STDIN); the
// client gets 503, or a member that got the whole body answers.
func TestOverloadedWithBodyNotResent(t *testing.T) {
	dir := sockDir(t)
	over := rawBackend(t, dir, "over", func(c net.Conn, w *record.Writer, _ map[string]string) {
		w.WriteEndRequest(1, 0, record.StatusOverloaded)
		w.Flush()
	})
	echo := goBackend(t, dir, "echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %d of %d", len(b), r.ContentLength)
	}))
	f := newFront(t, spec.Front{Root: tree(t, map[string]string{"index.html": "x"}),
		Apps: []spec.App{{Name: "a", Prefix: "/a", Backends: []string{over, echo}, FastCGI: spec.FastCGI{ResponseTimeoutMS: 3000}}}}, Options{})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	for i := range 6 {
		resp, err := http.Post(srv.URL+"/a/x", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 && (resp.StatusCode != 200 || string(b) != "got 5 of 5") {
			t.Errorf("POST %d: %d %q, want 503 or the whole body at a member", i, resp.StatusCode, b)
		}
	}
}
