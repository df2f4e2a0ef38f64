package httpfront

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
)

// openConns is how many connections the fast path holds.
func (fs *fastServer) openConns() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.conns)
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoopSocketFull: responses from memory that the socket does not take
// (the client reads nothing for a while) are kept and sent in order when
// the client reads; the connection never leaves the loop.
func TestLoopSocketFull(t *testing.T) {
	body := randomBytes(t, 200<<10) // under maxCachedFile: from memory
	root := tree(t, map[string]string{"big.bin": string(body), "a.txt": "aaa"})
	s, addr := startServerOpt(t, spec.Front{Root: root}, ServerOptions{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 30 // 6 MiB: more than the socket buffers hold
	var raw strings.Builder
	for i := range n {
		fmt.Fprintf(&raw, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", []string{"big.bin", "a.txt"}[i%2])
	}
	if _, err := io.WriteString(c, raw.String()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	br := bufio.NewReader(c)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if want := [][]byte{body, []byte("aaa")}[i%2]; !bytes.Equal(b, want) {
			t.Fatalf("response %d: %d bytes, want %d", i, len(b), len(want))
		}
	}
	if h := s.fast.loopHandoffs.Load(); h != 0 {
		t.Errorf("%d handoffs, want the loop to serve it all", h)
	}
}

// TestLoopHandOff: on one keep-alive connection, a file from memory (the
// loop), an app request (handed to a goroutine), a large file (sendfile)
// and a POST (on to net/http) are all answered in order.
func TestLoopHandOff(t *testing.T) {
	big := randomBytes(t, 600<<10)
	root := tree(t, map[string]string{"a.txt": "aaa", "big.bin": string(big)})
	be := goBackend(t, sockDir(t), "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "app %s %s %s", r.Method, r.URL.Path, b)
	}))
	cfg := spec.Front{Root: root, Apps: []spec.App{{Name: "app", Prefix: "/app", Backends: []string{be}}}}
	s, addr := startServerOpt(t, cfg, ServerOptions{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	steps := []struct {
		raw  string
		want []byte
	}{
		{"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", []byte("aaa")},
		{"GET /app/x HTTP/1.1\r\nHost: x\r\n\r\n", []byte("app GET /app/x ")},
		{"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", []byte("aaa")},
		{"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", big},
		{"POST /app/y HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", []byte("app POST /app/y hi")},
		{"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", []byte("aaa")},
	}
	for i, st := range steps {
		if _, err := io.WriteString(c, st.raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if !bytes.Equal(b, st.want) {
			t.Fatalf("step %d: got %d bytes %.40q, want %.40q", i, len(b), b, st.want)
		}
	}
	if h := s.fast.loopHandoffs.Load(); h != 1 {
		t.Errorf("%d handoffs, want 1", h)
	}
	// A connection that only asks for files in memory stays in the loop.
	for range 3 {
		resp, err := http.Get("http://" + addr + "/a.txt")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if h := s.fast.loopHandoffs.Load(); h != 1 {
		t.Errorf("%d handoffs after static requests, want still 1", h)
	}
}

// TestLoopWriteTimeout: a client that never reads its responses is cut
// after the write timeout.
func TestLoopWriteTimeout(t *testing.T) {
	root := tree(t, map[string]string{"big.bin": string(randomBytes(t, 200<<10))})
	s, addr := startServerOpt(t, spec.Front{Root: root, WriteTimeoutMS: 300}, ServerOptions{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		for range 40 {
			if _, err := io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				return
			}
		}
	}()
	testkit.WaitFor(t, "the server to hold the connection", 5*time.Second, func() bool { return s.fast.openConns() == 1 })
	start := time.Now()
	testkit.WaitFor(t, "the client that does not read to be cut", 5*time.Second, func() bool { return s.fast.openConns() == 0 })
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("cut after %v, want about the write timeout (300 ms)", d)
	}
}

// TestSharedFileDescriptor: a large file is opened once and sent to many
// clients at once from one descriptor at their own offsets; a file
// replaced on disk is served anew after the stat TTL and the old
// descriptor is closed.
func TestSharedFileDescriptor(t *testing.T) {
	body := randomBytes(t, 1<<20)
	root := tree(t, map[string]string{"big.bin": string(body)})
	_, addr := startServerOpt(t, spec.Front{Root: root}, ServerOptions{Options: Options{StatTTL: 50 * time.Millisecond}})
	get := func(rng string) ([]byte, error) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/big.bin", nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 8 {
				off := (i*131 + j*977) * 613 % (len(body) - 5000)
				rng, want := "", body
				if j%2 == 1 {
					rng, want = fmt.Sprintf("bytes=%d-%d", off, off+4999), body[off:off+5000]
				}
				got, err := get(rng)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("client %d request %d (%q): %d bytes, %v", i, j, rng, len(got), err)
				}
			}
		})
	}
	wg.Wait()
	path := filepath.Join(root, "big.bin")
	if n := openDescriptors(t, path); n != 1 {
		t.Errorf("%d descriptors open on %s, want the one shared", n, path)
	}
	body2 := randomBytes(t, 1<<20)
	if err := os.WriteFile(path+".new", body2, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // past the TTL
	if got, err := get(""); err != nil || !bytes.Equal(got, body2) {
		t.Fatalf("after replacing the file: %d bytes, %v; want the new content", len(got), err)
	}
	testkit.WaitFor(t, "the replaced file's descriptor to close", 5*time.Second, func() bool {
		return openDescriptors(t, path+" (deleted)") == 0
	})
}

// openDescriptors counts this process's descriptors that name target.
func openDescriptors(t *testing.T, target string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == target {
			n++
		}
	}
	return n
}

// TestLoopLongPipeline: many more pipelined requests than one read takes
// are all answered without waiting for the loop's periodic wake-up.
func TestLoopLongPipeline(t *testing.T) {
	root := tree(t, map[string]string{"a.txt": "aaa"})
	s, addr := startServerOpt(t, spec.Front{Root: root}, ServerOptions{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 2000 // about 80 KiB of heads: 20 reads of the loop's buffer
	raw := strings.Repeat("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", n)
	start := time.Now()
	go io.WriteString(c, raw)
	br := bufio.NewReader(c)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "aaa" {
			t.Fatalf("response %d: %q", i, b)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d pipelined requests took %v", n, d)
	}
	if h := s.fast.loopHandoffs.Load(); h != 0 {
		t.Errorf("%d handoffs, want none", h)
	}
}

// TestLoopListenerOptions: sockets accepted from a loop listener inherit
// the options set on it (the loops set none per connection), all but
// TCP_NOTSENT_LOWAT, which Linux does not copy.
func TestLoopListenerOptions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ll, err := newLoopListener(ln.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ll.fd)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var fd int
	for i := 0; ; i++ {
		if fd, _, err = unix.Accept4(ll.fd, unix.SOCK_CLOEXEC); err != unix.EAGAIN || i == 100 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
	} {
		if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != o.want {
			t.Errorf("accepted socket: %s = %d, %v; want %d", o.name, v, err, o.want)
		}
	}
}

// TestLoopHeadScanLinear: a long head that arrives in many pieces is
// scanned for its end once, not from its start on every read (quadratic
// with a large max_header_bytes).
func TestLoopHeadScanLinear(t *testing.T) {
	root := tree(t, map[string]string{"a.txt": "aaa"})
	s, addr := startServerOpt(t, spec.Front{Root: root, MaxHeaderBytes: 1 << 20}, ServerOptions{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const pieces, piece = 200, 1 << 10
	io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n")
	line := "X-A: " + strings.Repeat("b", 25) + "\r\n" // 32 bytes
	for range pieces {
		io.WriteString(c, strings.Repeat(line, piece/len(line)))
		time.Sleep(time.Millisecond) // a read each
	}
	io.WriteString(c, "Connection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var scanned int64
	for _, l := range s.fast.loops {
		scanned += l.scanned
	}
	head := int64(pieces * piece)
	t.Logf("%d-byte head in %d pieces: %s, loops scanned %d bytes", head, pieces, resp.Status, scanned)
	if scanned > 2*head {
		t.Errorf("the loops scanned %d bytes for a %d-byte head", scanned, head)
	}
}

// TestIdleConnBuffersShrink: a connection that read a long head gives its
// grown buffer back once the head is answered, so that idle connections
// cost the same whatever their last head was (with max_header_bytes at
// 1 MiB, each would otherwise keep up to a megabyte).
func TestIdleConnBuffersShrink(t *testing.T) { forFastModes(t, testIdleConnBuffersShrink) }

func testIdleConnBuffersShrink(t *testing.T, so ServerOptions) {
	root := tree(t, map[string]string{"a.txt": "aaa"})
	s, addr := startServerOpt(t, spec.Front{Root: root, MaxHeaderBytes: 256 << 10}, so)
	const conns = 100
	short := "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	long := "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 128<<10) + "\r\n\r\n"
	heapWith := func(head string) int64 {
		var cs []net.Conn
		defer func() {
			for _, c := range cs {
				c.Close()
			}
			// closed connections go back to the loops' free lists
			testkit.WaitFor(t, "the connections to close", 5*time.Second, func() bool { return s.fast.openConns() == 0 })
		}()
		for range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
			io.WriteString(c, head)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		return liveHeap()
	}
	base := heapWith(short)
	grown := heapWith(long) - base
	t.Logf("%d idle connections after a 128 KiB head: heap %+d bytes against after a short one", conns, grown)
	// A loop's free list may hold some twenty connections (~17 KB each)
	// more in one round than in the other.
	if grown > conns*(32<<10) {
		t.Errorf("%d idle connections keep %d bytes more after a long head", conns, grown)
	}
}

// A reload gives up the old front end's cached descriptors at once, not
// when the garbage collector finds them.
func TestReloadClosesCachedFiles(t *testing.T) {
	root := tree(t, map[string]string{"big.bin": string(randomBytes(t, 1<<20))})
	cfg := spec.Front{Root: root}
	s, addr := startServerOpt(t, cfg, ServerOptions{})
	resp, err := http.Get("http://" + addr + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	path := filepath.Join(root, "big.bin")
	if n := openDescriptors(t, path); n != 1 {
		t.Fatalf("%d descriptors open on %s before the reload, want the cached one", n, path)
	}
	old := s.cur.Load()
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the old front end's descriptor to close", 5*time.Second, func() bool {
		return openDescriptors(t, path) == 0
	})
	runtime.KeepAlive(old)
}

// A front end being closed waits for its requests, but never makes a new
// user wait behind it: enter reports false at once (a read lock would
// block behind the waiting Close, and an event loop with it).
func TestInflightCloseDoesNotBlockUsers(t *testing.T) {
	var u inflight
	if !u.enter() {
		t.Fatal("enter on an open front end")
	}
	drained := make(chan struct{})
	go func() { u.drain(); close(drained) }()
	testkit.WaitFor(t, "drain to start", 5*time.Second, u.closing.Load)
	entered := make(chan bool)
	go func() { entered <- u.enter() }()
	select {
	case ok := <-entered:
		if ok {
			t.Error("a new user entered a closing front end")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a new user waited behind Close")
	}
	select {
	case <-drained:
		t.Fatal("Close did not wait for the request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	u.leave()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("Close still waits after the last request left")
	}
}

// Shutdown returns when its context ends even if a request is still in
// flight on the front end.
func TestShutdownBoundedByContext(t *testing.T) {
	s, _ := startServerOpt(t, spec.Front{Root: tree(t, map[string]string{"index.html": "x"})}, ServerOptions{})
	f := s.acquire() // a request that does not end
	defer f.use.leave()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Shutdown reported success with a request in flight")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown waited for the request past its context")
	}
}
