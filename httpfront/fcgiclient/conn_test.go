package fcgiclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

func TestNextID(t *testing.T) {
	tests := []struct{ from, want uint16 }{{0, 1}, {1, 2}, {41, 42}, {65534, 65535}, {65535, 1}}
	for _, tc := range tests {
		c := &Conn{id: tc.from}
		if got := c.nextID(); got != tc.want || c.id != tc.want {
			t.Errorf("after %d: %d, want %d", tc.from, got, tc.want)
		}
	}
}

// socketPair returns a Conn over one end of a unix socket pair and the
// other end, as the backend.
func socketPair(t *testing.T) (*Conn, *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, peer := os.NewFile(uintptr(fds[0]), "front"), os.NewFile(uintptr(fds[1]), "backend")
	t.Cleanup(func() { mine.Close(); peer.Close() })
	return &Conn{nc: mine, r: record.NewReader(mine)}, peer
}

// quiet: nothing waiting and the peer still there; stray bytes, a closed
// peer or bytes already buffered make a connection unfit to keep.
func TestQuiet(t *testing.T) {
	tests := []struct {
		name string
		do   func(c *Conn, peer *os.File)
		want bool
	}{
		{"idle", func(*Conn, *os.File) {}, true},
		{"stray bytes", func(_ *Conn, peer *os.File) { peer.Write([]byte{1, 6, 0, 1}) }, false},
		{"peer closed", func(_ *Conn, peer *os.File) { peer.Close() }, false},
		{"buffered", func(c *Conn, peer *os.File) {
			peer.Write(append(record.AppendRecord(nil, record.TypeStdout, 1, nil), record.AppendRecord(nil, record.TypeStdout, 1, nil)...))
			c.nc.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.r.Next(); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := socketPair(t)
			tc.do(c, peer)
			if got := c.quiet(); got != tc.want {
				t.Errorf("quiet = %v, want %v", got, tc.want)
			}
			if got := c.quiet(); got != tc.want { // peeking consumes nothing
				t.Errorf("quiet again = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkQuiet is the cost of the peek a kept connection gets twice
// per request (released, then taken).
func BenchmarkQuiet(b *testing.B) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	mine, peer := os.NewFile(uintptr(fds[0]), "front"), os.NewFile(uintptr(fds[1]), "backend")
	defer mine.Close()
	defer peer.Close()
	c := &Conn{nc: mine, r: record.NewReader(mine)}
	b.ReportAllocs()
	for b.Loop() {
		if !c.quiet() {
			b.Fatal("not quiet")
		}
	}
}

// unixConn's raw reads and writes: what the peer sent, a wait for more,
// a write larger than the socket takes at once, end of stream, deadlines
// (504's timeout) and a closed connection.
func TestUnixConn(t *testing.T) {
	pair := func(t *testing.T) (*unixConn, *os.File) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		u, err := newUnixConn(os.NewFile(uintptr(fds[0]), "front"))
		if err != nil {
			t.Fatal(err)
		}
		peer := os.NewFile(uintptr(fds[1]), "backend")
		t.Cleanup(func() { u.Close(); peer.Close() })
		u.SetDeadline(time.Now().Add(5 * time.Second))
		return u, peer
	}
	readAll := func(r io.Reader, n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	tests := []struct {
		name string
		run  func(t *testing.T, u *unixConn, peer *os.File) error
	}{
		{"read what is there", func(t *testing.T, u *unixConn, peer *os.File) error {
			peer.Write([]byte("hello"))
			b, err := readAll(u, 5)
			if string(b) != "hello" {
				return fmt.Errorf("read %q, %v", b, err)
			}
			return nil
		}},
		{"read waits", func(t *testing.T, u *unixConn, peer *os.File) error {
			time.AfterFunc(50*time.Millisecond, func() { peer.Write([]byte("later")) })
			b, err := readAll(u, 5)
			if string(b) != "later" {
				return fmt.Errorf("read %q, %v", b, err)
			}
			return nil
		}},
		{"write beyond the socket buffer", func(t *testing.T, u *unixConn, peer *os.File) error {
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			got := make(chan []byte)
			go func() {
				time.Sleep(50 * time.Millisecond)
				b, _ := readAll(peer, len(big))
				got <- b
			}()
			if n, err := u.Write(big); n != len(big) || err != nil {
				return fmt.Errorf("wrote %d of %d: %v", n, len(big), err)
			}
			if b := <-got; !bytes.Equal(b, big) {
				return fmt.Errorf("peer got %d bytes, not what was written", len(b))
			}
			return nil
		}},
		{"end of stream", func(t *testing.T, u *unixConn, peer *os.File) error {
			peer.Close()
			if n, err := u.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				return fmt.Errorf("read %d, %v; want io.EOF", n, err)
			}
			return nil
		}},
		{"deadline", func(t *testing.T, u *unixConn, peer *os.File) error {
			u.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := u.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) || !IsTimeout(err) {
				return fmt.Errorf("read past the deadline: %v; want a timeout", err)
			}
			return nil
		}},
		{"closed", func(t *testing.T, u *unixConn, peer *os.File) error {
			u.Close()
			if _, err := u.Read(make([]byte, 8)); err == nil {
				return errors.New("read on a closed connection succeeded")
			}
			if _, err := u.Write([]byte("x")); err == nil {
				return errors.New("write on a closed connection succeeded")
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, peer := pair(t)
			if err := tc.run(t, u, peer); err != nil {
				t.Error(err)
			}
		})
	}
}
