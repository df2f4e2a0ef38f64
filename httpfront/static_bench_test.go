package httpfront

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// discardConn is a connection that takes every write.
type discardConn struct{}

var benchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}

func (discardConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) LocalAddr() net.Addr              { return benchAddr }
func (discardConn) RemoteAddr() net.Addr             { return benchAddr }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkFastPathStatic is the fast path's work for a small cached file
// and for a missing one, from a parsed head to the response's bytes
// (what bench/front.sh's static 1 KiB test costs the front end, without
// the sockets).
func BenchmarkFastPathStatic(b *testing.B) {
	root := tree(b, map[string]string{"1k.bin": strings.Repeat("k", 1024)})
	for _, target := range []string{"/1k.bin", "/missing.bin"} {
		b.Run(target, func(b *testing.B) {
			s, err := NewServer(spec.Front{Root: root, AccessLog: "off"}, ServerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			c := newFastConn(s.fast, discardConn{}, nil)
			head := []byte("GET " + target + " HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			b.ReportAllocs()
			for b.Loop() {
				r, ok := c.parse(head)
				if !ok || !c.respond(r, true) {
					b.Fatal("not answered from memory")
				}
			}
		})
	}
}
