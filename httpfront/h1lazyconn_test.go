package httpfront

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
	"golang.org/x/sys/unix"
)

// lazyPair returns a lazyConn over the server end of a loopback TCP
// connection, its detach count and the client end.
func lazyPair(t *testing.T) (*lazyConn, *atomic.Int64, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := sc.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	sc.Close()
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		t.Fatal(err)
	}
	z, n := &lazyConn{}, &atomic.Int64{}
	z.reset(fd, client.RemoteAddr(), client.LocalAddr(), n)
	t.Cleanup(func() { z.Close(); client.Close() })
	return z, n, client
}

// waitReadable waits until z's socket has something to read (on a busy
// machine loopback bytes may arrive a little after the write returned).
func waitReadable(z *lazyConn) {
	fds := []unix.PollFd{{Fd: int32(z.fd), Events: unix.POLLIN}}
	_, _ = unix.Poll(fds, 5000)
}

// whenDetached calls f once z is detached (waiting in the runtime's
// poller).
func whenDetached(z *lazyConn, f func()) {
	for !z.detached() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	f()
}

// A lazyConn makes raw calls until one would block, then goes on as a
// net.Conn of the runtime's poller with the deadlines it was given.
func TestLazyConn(t *testing.T) {
	tests := []struct {
		name     string
		detaches int64
		run      func(z *lazyConn, client net.Conn) error
	}{
		{"read what is there", 0, func(z *lazyConn, client net.Conn) error {
			client.Write([]byte("GET"))
			waitReadable(z)
			b := make([]byte, 8)
			if n, err := z.Read(b); string(b[:n]) != "GET" {
				return fmt.Errorf("read %q, %v", b[:n], err)
			}
			return nil
		}},
		{"write the socket takes", 0, func(z *lazyConn, client net.Conn) error {
			if _, err := z.Write([]byte("HTTP/1.1 200 OK\r\n")); err != nil {
				return err
			}
			b := make([]byte, 17)
			_, err := io.ReadFull(client, b)
			return err
		}},
		{"end of stream", 0, func(z *lazyConn, client net.Conn) error {
			client.Close()
			waitReadable(z)
			if n, err := z.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				return fmt.Errorf("read %d, %v; want io.EOF", n, err)
			}
			return nil
		}},
		{"past its deadline", 0, func(z *lazyConn, client net.Conn) error {
			client.Write([]byte("GET"))
			z.SetReadDeadline(time.Now().Add(-time.Second))
			if _, err := z.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("read: %v; want a timeout", err)
			}
			return nil
		}},
		{"closed", 0, func(z *lazyConn, client net.Conn) error {
			z.Close()
			if _, err := z.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("write after close: %v", err)
			}
			return nil
		}},
		{"read waits", 1, func(z *lazyConn, client net.Conn) error {
			z.SetReadDeadline(time.Now().Add(5 * time.Second))
			go whenDetached(z, func() { client.Write([]byte("later")) })
			b := make([]byte, 8)
			if n, err := z.Read(b); string(b[:n]) != "later" {
				return fmt.Errorf("read %q, %v", b[:n], err)
			}
			return nil
		}},
		{"deadline while waiting", 1, func(z *lazyConn, client net.Conn) error {
			z.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := z.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("read: %v; want a timeout", err)
			}
			return nil
		}},
		{"closed while waiting", 1, func(z *lazyConn, client net.Conn) error {
			go whenDetached(z, func() { z.Close() })
			if _, err := z.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("read: %v; want net.ErrClosed", err)
			}
			return nil
		}},
		{"write beyond the socket buffers", 1, func(z *lazyConn, client net.Conn) error {
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
			got := make(chan []byte, 1)
			go func() {
				time.Sleep(50 * time.Millisecond)
				b := make([]byte, len(big))
				io.ReadFull(client, b)
				got <- b
			}()
			z.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if n, err := z.Write(big); n != len(big) || err != nil {
				return fmt.Errorf("wrote %d of %d: %v", n, len(big), err)
			}
			if b := <-got; !bytes.Equal(b, big) {
				return errors.New("the client got other bytes than written")
			}
			return nil
		}},
		{"sendfile detaches", 1, func(z *lazyConn, client net.Conn) error {
			_, err := z.SyscallConn()
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, n, client := lazyPair(t)
			if err := tc.run(z, client); err != nil {
				t.Error(err)
			}
			if got := n.Load(); got != tc.detaches {
				t.Errorf("%d detaches, want %d", got, tc.detaches)
			}
		})
	}
}

// A client that connects per request to an app has its request handed to
// a goroutine and answered there without the socket ever joining the
// runtime's poller; its connection goes back to the loop's free list. A
// kept connection detaches once, when it waits for its next request.
func TestConnPerRequestNotDetached(t *testing.T) {
	be := goBackend(t, sockDir(t), "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app %s", r.URL.Path)
	}))
	cfg := spec.Front{Root: tree(t, map[string]string{"a.txt": "aaa"}),
		Apps: []spec.App{{Name: "app", Prefix: "/app", Backends: []string{be}}}}
	s, addr := startServerOpt(t, cfg, ServerOptions{})
	get := func(c net.Conn, br *bufio.Reader, hdr string) {
		t.Helper()
		io.WriteString(c, "GET /app/x HTTP/1.1\r\nHost: x\r\n"+hdr+"\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "app /app/x" {
			t.Fatalf("%s %q", resp.Status, b)
		}
	}
	const n = 10
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		get(c, br, "Connection: close\r\n")
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("after a response with Connection: close: %v, want EOF", err)
		}
		c.Close()
	}
	if h, d := s.fast.loopHandoffs.Load(), s.fast.detaches.Load(); h != n || d != 0 {
		t.Errorf("%d connections per request: %d handed off, %d detached; want %d, 0", n, h, d, n)
	}
	testkit.WaitFor(t, "a served connection back in a free list", 5*time.Second, func() bool {
		free := 0
		for _, l := range s.fast.loops {
			l.freeMu.Lock()
			free += len(l.free)
			l.freeMu.Unlock()
		}
		return free > 0
	})

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	get(c, br, "")
	testkit.WaitFor(t, "the kept connection to detach", 5*time.Second, func() bool { return s.fast.detaches.Load() == 1 })
	get(c, br, "")
	if d := s.fast.detaches.Load(); d != 1 {
		t.Errorf("%d detaches after two requests on a kept connection, want 1", d)
	}
}

// Goroutines that served connections handed off by the loops wait for the
// next one, at most maxIdleWorkers of them, and end at Shutdown.
func TestIdleWorkersBounded(t *testing.T) {
	be := goBackend(t, sockDir(t), "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	cfg := spec.Front{Root: tree(t, map[string]string{"a.txt": "aaa"}),
		Apps: []spec.App{{Name: "app", Prefix: "/app", Backends: []string{be}}}}
	s, addr := startServerOpt(t, cfg, ServerOptions{})
	const conns = maxIdleWorkers + 16
	var cs []net.Conn
	for range conns { // kept connections: a worker each
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /app/x HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if w := s.fast.idleWorkers.Load(); w != 0 {
		t.Errorf("%d idle workers while %d connections are kept, want 0", w, conns)
	}
	for _, c := range cs {
		c.Close()
	}
	testkit.WaitFor(t, "the connections to close", 5*time.Second, func() bool { return s.fast.openConns() == 0 })
	testkit.WaitFor(t, "the workers to settle", 5*time.Second, func() bool { return s.fast.idleWorkers.Load() == maxIdleWorkers })
	resp, err := http.Get("http://" + addr + "/app/y") // an idle worker serves it
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "ok") {
		t.Errorf("after the workers settled: %s %q", resp.Status, b)
	}
	http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the idle workers to end", 5*time.Second, func() bool { return s.fast.idleWorkers.Load() == 0 })
}

// SERVER_ADDR is the address the client reached, also when the listener
// is a wildcard and the loop hands the connection off without detaching
// it (which used to ask the kernel through net.FileConn).
func TestServerAddrOnWildcardListener(t *testing.T) {
	be := rawBackend(t, sockDir(t), "env", echoParams)
	cfg := spec.Front{Root: tree(t, map[string]string{"a.txt": "aaa"}),
		Apps: []spec.App{{Name: "app", Prefix: "/app", Backends: []string{be}}}}
	s, addr := startServerOn(t, "tcp4", "0.0.0.0:0", cfg, ServerOptions{})
	_, port, _ := net.SplitHostPort(addr)
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /app/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	v := vars(string(b))
	if v["SERVER_ADDR"] != "127.0.0.1" || v["SERVER_PORT"] != port {
		t.Errorf("SERVER_ADDR %q, SERVER_PORT %q; want 127.0.0.1, %s", v["SERVER_ADDR"], v["SERVER_PORT"], port)
	}
	if d := s.fast.detaches.Load(); d != 0 {
		t.Errorf("%d detaches, want 0", d)
	}
}
