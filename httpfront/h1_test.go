package httpfront

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
)

// startServerOpt is startServer with ServerOptions.
func startServerOpt(t *testing.T, cfg spec.Front, so ServerOptions) (*Server, string) {
	t.Helper()
	return startServerOn(t, "tcp", "127.0.0.1:0", cfg, so)
}

// startServerOn serves plain HTTP on a listener at network and addr
// until the test ends, and returns the listener's address.
func startServerOn(t *testing.T, network, addr string, cfg spec.Front, so ServerOptions) (*Server, string) {
	t.Helper()
	if so.AccessLog == nil {
		so.AccessLog = io.Discard
	}
	so.Logf = t.Logf
	s, err := NewServer(cfg, so)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, ln.Addr().String()
}

// forFastModes runs test against the fast path with event loops and with
// a goroutine per connection.
func forFastModes(t *testing.T, test func(*testing.T, ServerOptions)) {
	t.Run("loops", func(t *testing.T) { test(t, ServerOptions{}) })
	t.Run("goroutines", func(t *testing.T) { test(t, ServerOptions{noLoops: true}) })
}

// withLog returns so with access log w (nil: none).
func withLog(so ServerOptions, w io.Writer) ServerOptions {
	so.AccessLog = w
	return so
}

// exchange sends raw on a new connection and returns everything the
// server sends until it closes (or goes quiet for a moment).
func exchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Error(err)
		return ""
	}
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out)
		}
	}
}

// normalize parses the responses in raw (for a request of method) and
// prints them without their Date fields, fields sorted.
func normalize(raw, method string) string {
	br := bufio.NewReader(strings.NewReader(raw))
	var b strings.Builder
	for {
		if _, err := br.Peek(1); err != nil {
			return b.String()
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			if err != io.EOF {
				fmt.Fprintf(&b, "[%v]", err)
			}
			return b.String()
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if _, p, ok := strings.Cut(resp.Header.Get("Content-Type"), "boundary="); ok {
			resp.Header.Set("Content-Type", strings.ReplaceAll(resp.Header.Get("Content-Type"), p, "B"))
			body = []byte(strings.ReplaceAll(string(body), p, "B"))
		}
		resp.Header.Del("Date")
		var keys []string
		for k, v := range resp.Header {
			keys = append(keys, k+": "+strings.Join(v, "|"))
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "%s %v\n%s\ncl=%d te=%v close=%v\n%q err=%v\n---\n", resp.Proto, resp.Status,
			strings.Join(keys, "\n"), resp.ContentLength, resp.TransferEncoding, resp.Close, body, err)
	}
}

// TestFastPathMatchesNetHTTP sends the same bytes to a Server with the
// fast path and to one with net/http alone and wants the same answers.
func TestFastPathMatchesNetHTTP(t *testing.T) {
	root := tree(t, map[string]string{
		"index.html": "<h1>home</h1>", "a.txt": "hello, world", "a.txt.gz": gz(t, "hello, world"),
		"big.bin": strings.Repeat("0123456789", 40000), "dir/x.css": "p{}", ".hidden": "no",
		"noext": "\x89PNG\r\n\x1a\nrest",
	})
	dir := sockDir(t)
	be := goBackend(t, dir, "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app/big":
			io.WriteString(w, strings.Repeat("x", 10000))
		case "/app/flush":
			io.WriteString(w, "part1")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond) // both front ends see two pieces
			io.WriteString(w, "part2")
		case "/app/204":
			w.WriteHeader(204)
		default: // with a length, so that the framing does not depend on timing
			msg := fmt.Sprintf("app %s %s q=%s ua=%s", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("User-Agent"))
			w.Header().Set("Content-Length", fmt.Sprint(len(msg)))
			io.WriteString(w, msg)
		}
	}))
	cfg := spec.Front{Root: root, MaxHeaderBytes: 2048, Apps: []spec.App{{Name: "app", Prefix: "/app", Backends: []string{be}}},
		CacheControl: []spec.CacheRule{{Prefix: "/dir", Value: "max-age=60"}}}
	_, fast := startServerOpt(t, cfg, ServerOptions{})
	_, fastG := startServerOpt(t, cfg, ServerOptions{noLoops: true})
	_, slow := startServerOpt(t, cfg, ServerOptions{netHTTPOnly: true})
	etag := func(addr string) string {
		resp, err := http.Get("http://" + addr + "/a.txt")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Etag")
	}(fast)
	const h = "Host: example.test\r\n"
	reqs := []string{
		"GET / HTTP/1.1\r\n" + h + "\r\n",
		"HEAD / HTTP/1.1\r\n" + h + "\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "User-Agent: x\r\nAccept: */*\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "Accept-Encoding: gzip\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "If-None-Match: " + etag + "\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "If-Match: \"nope\"\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "Range: bytes=0-4\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "Range: bytes=0-1,3-4\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "Range: bytes=100-\r\n\r\n",
		"GET /big.bin HTTP/1.1\r\n" + h + "\r\n",
		"HEAD /big.bin HTTP/1.1\r\n" + h + "\r\n",
		"GET /big.bin HTTP/1.1\r\n" + h + "Range: bytes=1000-1009\r\n\r\n",
		"GET /noext HTTP/1.1\r\n" + h + "\r\n",
		"GET /dir HTTP/1.1\r\n" + h + "\r\n",
		"GET /dir?x=1 HTTP/1.1\r\n" + h + "\r\n",
		"GET /dir/ HTTP/1.1\r\n" + h + "\r\n",
		"GET /dir/x.css?v=2 HTTP/1.1\r\n" + h + "\r\n",
		// a file held in memory without sidecars: the loops' prepared
		// answer (entry.resp), and the answers it must leave to serveFile
		"HEAD /dir/x.css HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n",
		"GET /dir/x.css HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n",
		"GET /dir/x.css HTTP/1.1\r\n" + h + "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n",
		"GET /dir/x.css HTTP/1.1\r\n" + h + "If-Unmodified-Since: Fri, 01 Jan 1971 00:00:00 GMT\r\n\r\n",
		"GET /dir/x.css HTTP/1.1\r\n" + h + "If-None-Match: *\r\n\r\n",
		"GET /dir/x.css HTTP/1.1\r\n" + h + "If-Match: \"nope\"\r\n\r\n",
		"GET /dir/x.css HTTP/1.1\r\n" + h + "Range: bytes=1-\r\n\r\n",
		"GET /dir/x.css HTTP/1.1\r\n" + h + "Range: bytes=1-\r\nIf-Range: \"nope\"\r\n\r\n",
		"GET /noext HTTP/1.1\r\n" + h + "User-Agent: x\r\n\r\nHEAD /noext HTTP/1.1\r\n" + h + "\r\nGET /dir/x.css HTTP/1.1\r\n" + h + "\r\n",
		"GET /missing HTTP/1.1\r\n" + h + "\r\n",
		"HEAD /missing HTTP/1.1\r\n" + h + "\r\n",
		"GET /.hidden HTTP/1.1\r\n" + h + "\r\n",
		"GET /a/../a.txt HTTP/1.1\r\n" + h + "\r\n",
		"GET /a%2fb HTTP/1.1\r\n" + h + "\r\n",
		"GET /a%zz HTTP/1.1\r\n" + h + "\r\n",
		"GET /%61.txt HTTP/1.1\r\n" + h + "\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n",
		"GET /a.txt HTTP/1.0\r\n\r\n",
		"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + h + "\r\n",
		"GET /a.txt HTTP/1.1\r\nHost: bad host\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "Bad Name: x\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "X: a\x01b\r\n\r\n",
		"GET /a.txt HTTP/1.1\n" + "Host: example.test\n\n",
		"GET http://example.test/a.txt HTTP/1.1\r\n" + h + "\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "X-Big: " + strings.Repeat("b", 8000) + "\r\n\r\n",
		"GET /a.txt HTTP/2.0\r\n" + h + "\r\n",
		"get /a.txt HTTP/1.1\r\n" + h + "\r\n",
		"GET  /a.txt HTTP/1.1\r\n" + h + "\r\n",
		"\r\nGET /a.txt HTTP/1.1\r\n" + h + "\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "Content-Length: 0\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "Pragma: no-cache\r\n\r\n",
		"POST /a.txt HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nabc",
		"DELETE /a.txt HTTP/1.1\r\n" + h + "\r\n",
		"OPTIONS * HTTP/1.1\r\n" + h + "\r\n",
		"GET /app/x?q=1 HTTP/1.1\r\n" + h + "User-Agent: ua\r\n\r\n",
		"HEAD /app/x HTTP/1.1\r\n" + h + "\r\n",
		"GET /app/big HTTP/1.1\r\n" + h + "\r\n",
		"GET /app/flush HTTP/1.1\r\n" + h + "\r\n",
		"GET /app/204 HTTP/1.1\r\n" + h + "\r\n",
		"POST /app/x HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nabc",
		// Body framing that net/http and the front end both refuse (the
		// fast path hands these off): CL with different values (400),
		// Transfer-Encoding other than chunked alone (501), a space before
		// the colon (400).
		"POST /app/x HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"POST /app/x HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /app/x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /app/x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "X : a\r\n\r\n",
		"POST /app/x HTTP/1.1\r\n" + h + "Content-Length : 3\r\n\r\nabc",
		"POST /app/x HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
		// ...and a chunked body alone, which both take.
		"POST /app/x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n" + h + "\r\n",
		// pipelined: simple, handed off, simple again
		"GET /a.txt HTTP/1.1\r\n" + h + "\r\nGET /index.html HTTP/1.1\r\n" + h + "\r\n",
		"GET /a.txt HTTP/1.1\r\n" + h + "\r\nPOST /app/x HTTP/1.1\r\n" + h + "Content-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\n" + h + "\r\n",
		"HEAD /a.txt HTTP/1.1\r\n" + h + "\r\nGET /a.txt HTTP/1.1\r\n" + h + "Connection: close\r\n\r\nGET / HTTP/1.1\r\n" + h + "\r\n",
	}
	var wg sync.WaitGroup
	for _, raw := range reqs {
		wg.Go(func() { // exchanges wait for quiet: all at once
			method, _, _ := strings.Cut(raw, " ")
			want := normalize(exchange(t, slow, raw), strings.TrimSpace(method))
			got := normalize(exchange(t, fast, raw), strings.TrimSpace(method))
			if got != want || want == "" {
				t.Errorf("request %q:\nfast path (event loops):\n%s\nnet/http:\n%s", raw, got, want)
			}
			if got := normalize(exchange(t, fastG, raw), strings.TrimSpace(method)); got != want {
				t.Errorf("request %q:\nfast path (goroutines):\n%s\nnet/http:\n%s", raw, got, want)
			}
		})
	}
	wg.Wait()
	stricterThanNetHTTP(t, fast, fastG, slow)
}

// stricterThanNetHTTP sends the heads whose body framing net/http accepts
// but two parsers could read differently (framingFault): the front end
// answers 400 and closes, with nothing of what follows answered, in both
// fast modes; net/http's answer is logged.
func stricterThanNetHTTP(t *testing.T, fast, fastG, slow string) {
	const h = "Host: example.test\r\n"
	const next = "GET /a.txt HTTP/1.1\r\n" + h + "\r\n" // must stay unanswered
	reqs := []string{
		// CL and TE together: net/http drops CL, reads chunked, keeps the
		// connection (RFC 9112 6.1: close it).
		"POST /app/x HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + next,
		"POST /app/x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n" + next,
		// The same Content-Length twice: net/http takes it.
		"POST /app/x HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + next,
		"GET /a.txt HTTP/1.1\r\n" + h + "Content-Length: 0\r\ncontent-length: 0\r\n\r\n" + next,
		// Transfer-Encoding on GET and HEAD: net/http reads a body.
		"GET /a.txt HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + next,
		"HEAD /a.txt HTTP/1.1\r\n" + h + "transfer-encoding: chunked\r\n\r\n0\r\n\r\n" + next,
		// On HTTP/1.0: net/http ignores it and reads the chunks as the
		// next request.
		"POST /app/x HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + next,
		// Obsolete line folding: net/http joins the lines.
		"GET /a.txt HTTP/1.1\r\n" + h + "X: a\r\n folded\r\n\r\n" + next,
		"POST /app/x HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\nabc" + next,
	}
	var wg sync.WaitGroup
	for _, raw := range reqs {
		wg.Go(func() {
			method, _, _ := strings.Cut(raw, " ")
			want := normalize(badFraming, method)
			t.Logf("net/http answers %q with\n%s", raw, normalize(exchange(t, slow, raw), method))
			for mode, addr := range map[string]string{"event loops": fast, "goroutines": fastG} {
				if got := normalize(exchange(t, addr, raw), method); got != want {
					t.Errorf("request %q:\nfast path (%s):\n%s\nwant:\n%s", raw, mode, got, want)
				}
			}
		})
	}
	wg.Wait()
}

func TestFastPathTimeouts(t *testing.T) { forFastModes(t, testFastPathTimeouts) }

func testFastPathTimeouts(t *testing.T, so ServerOptions) {
	root := tree(t, map[string]string{"index.html": "home"})
	_, addr := startServerOpt(t, spec.Front{Root: root, ReadHeaderTimeoutMS: 200, IdleTimeoutMS: 300}, withLog(so, nil))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	// Idle for less than the idle timeout but more than the header
	// timeout: the connection stays.
	time.Sleep(250 * time.Millisecond)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err = http.ReadResponse(br, nil); err != nil {
		t.Fatalf("second request after 250 ms idle: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	// A head started but not finished is cut after the header timeout.
	start := time.Now()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\n")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("got an answer to half a head")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("half a head held the connection %v", d)
	}
	// An idle connection is closed after the idle timeout.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br2 := bufio.NewReader(c2)
	if resp, err = http.ReadResponse(br2, nil); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	start = time.Now()
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br2.ReadByte(); err != io.EOF {
		t.Errorf("idle connection: %v, want EOF", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > time.Second {
		t.Errorf("idle connection closed after %v, want about 300 ms", d)
	}
}

func TestFastPathPipelining(t *testing.T) { forFastModes(t, testFastPathPipelining) }

func testFastPathPipelining(t *testing.T, so ServerOptions) {
	root := tree(t, map[string]string{"index.html": "home", "a.txt": "aaa"})
	var log syncBuf
	_, addr := startServerOpt(t, spec.Front{Root: root}, withLog(so, &log))
	var raw strings.Builder
	for i := range 50 {
		fmt.Fprintf(&raw, "GET /%s?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", []string{"", "a.txt"}[i%2], i)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.WriteString(c, raw.String())
	br := bufio.NewReader(c)
	for i := range 50 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if want := []string{"home", "aaa"}[i%2]; string(b) != want {
			t.Fatalf("response %d: %q, want %q", i, b, want)
		}
	}
}

func TestFastPathShutdown(t *testing.T) { forFastModes(t, testFastPathShutdown) }

func testFastPathShutdown(t *testing.T, so ServerOptions) {
	root := tree(t, map[string]string{"index.html": "home"})
	s, addr := startServerOpt(t, spec.Front{Root: root}, withLog(so, nil))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an idle keep-alive connection: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("shutdown took %v", d)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle connection after shutdown: %v, want EOF", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still accepting after shutdown")
	}
}

// TestFastPathShutdownNewConn: a connection that has sent nothing yet
// does not hold Shutdown up.
func TestFastPathShutdownNewConn(t *testing.T) { forFastModes(t, testFastPathShutdownNewConn) }

func testFastPathShutdownNewConn(t *testing.T, so ServerOptions) {
	root := tree(t, map[string]string{"index.html": "home"})
	s, addr := startServerOpt(t, spec.Front{Root: root}, withLog(so, nil))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // accepted and waiting
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a silent new connection: %v", err)
	}
}

func TestNotSentLowat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	setNotSentLowat(c)
	raw, _ := c.(*net.TCPConn).SyscallConn()
	var v int
	raw.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT) })
	if err != nil || v != notSentLowat {
		t.Errorf("TCP_NOTSENT_LOWAT = %d, %v; want %d", v, err, notSentLowat)
	}
}

// TestPreparedAnswerDate: a prepared answer (a small file from memory)
// carries the time of its own request, also on a kept connection and on
// one a loop handed to a goroutine.
func TestPreparedAnswerDate(t *testing.T) { forFastModes(t, testPreparedAnswerDate) }

func testPreparedAnswerDate(t *testing.T, so ServerOptions) {
	root := tree(t, map[string]string{"a.css": "p{}"})
	_, addr := startServerOpt(t, spec.Front{Root: root, AccessLog: "off"}, so)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 3 {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		if _, err := io.WriteString(c, "GET /a.css HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: %d, Date %q: %v", i, resp.StatusCode, resp.Header.Get("Date"), err)
		}
		if off := time.Since(d); off < -time.Second || off > 2*time.Second {
			t.Errorf("request %d: Date %v is %v from now", i, d, off)
		}
	}
}
