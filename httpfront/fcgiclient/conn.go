package fcgiclient

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// backendConn is what a Conn needs of its connection: a net.Conn, or an
// *os.File for a unix socket dialled directly.
type backendConn interface {
	io.ReadWriteCloser
	SetDeadline(t time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Conn is one connection to a backend.
type Conn struct {
	nc     backendConn
	b      *Backend
	r      *record.Reader
	w      *record.Writer
	bufs   *connBufs
	reused bool
	keep   bool // sent with FCGI_KEEP_CONN
}

// connBufs are a connection's buffers, recycled through the Pool when it
// closes, so that a connection per request costs no garbage.
type connBufs struct {
	r      *record.Reader
	w      *record.Writer
	header *bufio.Reader // reads the CGI header of each response
	enc    []byte        // encoded PARAMS
}

func (p *Pool) newConn(nc backendConn, b *Backend) *Conn {
	cb, _ := p.bufs.Get().(*connBufs)
	if cb == nil {
		cb = &connBufs{r: record.NewReader(nil), w: record.NewWriter(nil), header: bufio.NewReaderSize(nil, 4096)}
	}
	cb.r.Reset(nc)
	cb.w.Reset(nc)
	b.open.Add(1)
	return &Conn{nc: nc, b: b, r: cb.r, w: cb.w, bufs: cb}
}

// close closes c and recycles its buffers; c is not used afterwards.
func (p *Pool) close(c *Conn) {
	c.nc.Close()
	if cb := c.bufs; cb != nil {
		c.b.open.Add(-1)
		c.bufs, c.r, c.w = nil, nil, nil
		cb.r.Reset(nil)
		cb.w.Reset(nil)
		cb.header.Reset(nil)
		if cap(cb.enc) > 64<<10 {
			cb.enc = nil
		}
		p.bufs.Put(cb)
	}
}

// dial connects to b: unix sockets directly with socket(2) and connect(2)
// (a unix connect does not block: it succeeds, or fails with EAGAIN when
// the backlog is full), TCP through net.Dialer.
func (p *Pool) dial(ctx context.Context, b *Backend) (backendConn, error) {
	if b.network == "unix" {
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", b.Name, os.NewSyscallError("socket", err))
		}
		sa := &syscall.SockaddrUnix{Name: b.addr}
		for {
			err = syscall.Connect(fd, sa)
			if err != syscall.EINTR {
				break
			}
		}
		if err != nil {
			syscall.Close(fd)
			return nil, fmt.Errorf("connecting to %s: %w", b.Name, os.NewSyscallError("connect", err))
		}
		return os.NewFile(uintptr(fd), b.addr), nil
	}
	d := net.Dialer{Timeout: p.opt.ConnectTimeout}
	nc, err := d.DialContext(ctx, b.network, b.addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", b.Name, err)
	}
	return nc, nil
}
