package fcgiclient

import (
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
