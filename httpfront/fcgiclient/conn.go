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
	"unsafe"

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
	keep   bool   // sent with FCGI_KEEP_CONN
	id     uint16 // the request id in flight (nextID)
	peek   *peeker
}

// nextID gives the connection's next request its own id: 1, 2, ... and
// round again, never 0 (management records). A record a backend sends
// late for an earlier request on a kept connection so never passes for
// the current one's.
func (c *Conn) nextID() uint16 {
	c.id++
	if c.id == 0 {
		c.id = 1
	}
	return c.id
}

// quiet reports whether nothing is waiting to be read on c and its peer
// has not closed it: a connection kept between requests must be. It peeks
// without blocking (recv with MSG_PEEK|MSG_DONTWAIT), a raw call like the
// event loops' (h1rawsys.go); what it needs is made once per connection.
func (c *Conn) quiet() bool {
	if c.r.Buffered() > 0 {
		return false
	}
	if c.peek == nil {
		sc, ok := c.nc.(syscall.Conn)
		if !ok {
			return false
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		c.peek = &peeker{rc: rc}
		c.peek.fn = c.peek.recv
	}
	// EAGAIN: nothing to read. n > 0: stray bytes; n = 0: the peer
	// closed; any other error: a broken connection.
	err := c.peek.rc.Read(c.peek.fn)
	return err == nil && c.peek.errno == syscall.EAGAIN
}

// peeker is a connection's non-blocking peek.
type peeker struct {
	rc    syscall.RawConn
	fn    func(fd uintptr) bool // recv, bound once
	buf   [1]byte
	errno syscall.Errno
}

func (p *peeker) recv(fd uintptr) bool {
	_, _, p.errno = syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return true
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
		u, err := newUnixConn(os.NewFile(uintptr(fd), b.addr))
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", b.Name, err)
		}
		return u, nil
	}
	d := net.Dialer{Timeout: p.opt.ConnectTimeout}
	nc, err := d.DialContext(ctx, b.network, b.addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", b.Name, err)
	}
	return nc, nil
}

// unixConn is a unix socket dialled directly. Its reads and writes are raw
// non-blocking calls, the runtime's poller waiting on EAGAIN, as the front
// end's event loops make theirs: os.File's tell the scheduler about each
// call, and on a busy machine a call the kernel preempts looks blocked to
// the runtime's monitor, which hands the processor to another thread and
// then polls every 20 us (6% of the CPU of a front end whose clients
// connect per request).
type unixConn struct {
	*os.File
	rc     syscall.RawConn
	rd, wr rawCall
}

// rawCall is one direction's call, bound once (no closure per call).
type rawCall struct {
	p     []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

func newUnixConn(f *os.File) (*unixConn, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	u := &unixConn{File: f, rc: rc}
	u.rd.fn = u.rd.read
	u.wr.fn = u.wr.write
	return u, nil
}

func (r *rawCall) read(fd uintptr) bool {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
	r.n, r.errno = int(n), e
	return e != syscall.EAGAIN
}

// write writes all of p, returning false (wait) when the socket is full.
func (r *rawCall) write(fd uintptr) bool {
	for r.n < len(r.p) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.p[r.n])), uintptr(len(r.p)-r.n))
		if e == syscall.EINTR {
			continue
		}
		r.errno = e
		if e != 0 {
			return e != syscall.EAGAIN
		}
		r.n += int(n)
	}
	return true
}

func (u *unixConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r := &u.rd
	r.p, r.n, r.errno = p, 0, 0
	for {
		err := u.rc.Read(r.fn)
		r.p = nil
		switch {
		case err != nil:
			return 0, err // closed, or past the deadline
		case r.errno == syscall.EINTR:
			r.p = p
			continue
		case r.errno != 0:
			return 0, os.NewSyscallError("read", r.errno)
		case r.n == 0:
			return 0, io.EOF
		}
		return r.n, nil
	}
}

func (u *unixConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w := &u.wr
	w.p, w.n, w.errno = p, 0, 0
	err := u.rc.Write(w.fn)
	n := w.n
	w.p = nil
	switch {
	case err != nil:
		return n, err
	case w.errno != 0:
		return n, os.NewSyscallError("write", w.errno)
	}
	return n, nil
}
