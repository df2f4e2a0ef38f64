package httpfront

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lazyConn is a connection an event loop handed to a goroutine
// (serveAlone), served with raw non-blocking calls on its descriptor for
// as long as none would block; deadlines are only remembered meanwhile.
// The first read or write that would block, a sendfile (SyscallConn) or a
// hand-off to net/http turns it into a *net.TCPConn of the runtime's
// poller (detach), which serves it from then on with the deadlines set.
//
// A client that connects per request has its request read by the loop and
// its response taken by the socket at once: its connection is closed
// without ever being detached, which costs a dozen and a half system
// calls (a dup, fcntls, two epoll registrations and their removal,
// getsockname, getpeername, getsockopt, five setsockopts and a second
// close) and the runtime's deadline timers. A kept connection detaches
// when it waits for its next request, once.
type lazyConn struct {
	fd           int
	laddr, raddr net.Addr
	rdl, wdl     time.Time     // applied when detached
	detaches     *atomic.Int64 // counts detaches (fastServer.detaches)

	// mu is held around every use of fd, so that Close from another
	// goroutine (Shutdown) never closes it under a call in progress.
	mu     sync.Mutex
	nc     net.Conn // the detached connection; nil before
	closed bool
}

// reset readies z for the descriptor fd.
func (z *lazyConn) reset(fd int, laddr, raddr net.Addr, detaches *atomic.Int64) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.fd, z.laddr, z.raddr, z.detaches = fd, laddr, raddr, detaches
	z.rdl, z.wdl, z.nc, z.closed = time.Time{}, time.Time{}, nil, false
}

func (z *lazyConn) Read(p []byte) (int, error) {
	z.mu.Lock()
	if z.nc == nil {
		if err := z.usable("read", z.rdl); err != nil {
			z.mu.Unlock()
			return 0, err
		}
		n, err := rawRead(z.fd, p)
		for err == unix.EINTR {
			n, err = rawRead(z.fd, p)
		}
		if err != unix.EAGAIN {
			z.mu.Unlock()
			switch {
			case err != nil:
				return 0, z.opError("read", os.NewSyscallError("read", err))
			case n == 0 && len(p) > 0:
				return 0, io.EOF
			}
			return n, nil
		}
		if err := z.detachLocked(); err != nil {
			z.mu.Unlock()
			return 0, err
		}
	}
	nc := z.nc
	z.mu.Unlock()
	return nc.Read(p)
}

func (z *lazyConn) Write(p []byte) (int, error) {
	z.mu.Lock()
	n := 0
	if z.nc == nil {
		if err := z.usable("write", z.wdl); err != nil {
			z.mu.Unlock()
			return 0, err
		}
		for n < len(p) {
			m, err := rawWrite(z.fd, p[n:])
			if m > 0 {
				n += m
			}
			if err == unix.EAGAIN {
				break
			}
			if err != nil && err != unix.EINTR {
				z.mu.Unlock()
				return n, z.opError("write", os.NewSyscallError("write", err))
			}
		}
		if n == len(p) {
			z.mu.Unlock()
			return n, nil
		}
		if err := z.detachLocked(); err != nil {
			z.mu.Unlock()
			return n, err
		}
	}
	nc := z.nc
	z.mu.Unlock()
	m, err := nc.Write(p[n:])
	return n + m, err
}

// usable returns the error of a call on a closed connection or past its
// deadline dl, as the runtime's poller would.
func (z *lazyConn) usable(op string, dl time.Time) error {
	if z.closed {
		return z.opError(op, net.ErrClosed)
	}
	if !dl.IsZero() && !time.Now().Before(dl) {
		return z.opError(op, os.ErrDeadlineExceeded)
	}
	return nil
}

func (z *lazyConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: z.laddr, Addr: z.raddr, Err: err}
}

// detachLocked turns the descriptor into a net.Conn of the runtime's
// poller with the deadlines and the not-sent limit (notSentLowat) set;
// z.mu is held.
func (z *lazyConn) detachLocked() error {
	if z.closed {
		return z.opError("detach", net.ErrClosed)
	}
	setNotSentLowatFD(z.fd)
	f := os.NewFile(uintptr(z.fd), "tcp")
	nc, err := net.FileConn(f)
	f.Close() // net.FileConn made its own descriptor
	z.closed = true
	if err != nil {
		return z.opError("detach", err)
	}
	z.nc, z.closed = nc, false
	z.detaches.Add(1)
	_ = nc.SetReadDeadline(z.rdl)
	_ = nc.SetWriteDeadline(z.wdl)
	return nil
}

// netConn returns the detached connection, detaching it first if need be.
func (z *lazyConn) netConn() (net.Conn, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.nc == nil {
		if err := z.detachLocked(); err != nil {
			return nil, err
		}
	}
	return z.nc, nil
}

// detached reports whether the connection went to the runtime's poller.
func (z *lazyConn) detached() bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.nc != nil
}

// Close closes the connection; any goroutine may call it.
func (z *lazyConn) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.nc != nil {
		return z.nc.Close()
	}
	if z.closed {
		return z.opError("close", net.ErrClosed)
	}
	z.closed = true
	if err := rawClose(z.fd); err != nil {
		return z.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// CloseWrite shuts the sending side down (a refused request's answer is
// out; its rest is drained).
func (z *lazyConn) CloseWrite() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.nc != nil {
		if cw, ok := z.nc.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite()
		}
		return nil
	}
	if z.closed {
		return z.opError("close", net.ErrClosed)
	}
	return os.NewSyscallError("shutdown", unix.Shutdown(z.fd, unix.SHUT_WR))
}

// SyscallConn (sendfile) and ReadFrom (net/http's copy) detach first.
func (z *lazyConn) SyscallConn() (syscall.RawConn, error) {
	nc, err := z.netConn()
	if err != nil {
		return nil, err
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errNoSendFile
	}
	return sc.SyscallConn()
}

func (z *lazyConn) ReadFrom(r io.Reader) (int64, error) {
	nc, err := z.netConn()
	if err != nil {
		return 0, err
	}
	if rf, ok := nc.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{nc}, r)
}

func (z *lazyConn) LocalAddr() net.Addr  { return z.laddr }
func (z *lazyConn) RemoteAddr() net.Addr { return z.raddr }

func (z *lazyConn) SetDeadline(t time.Time) error {
	z.SetReadDeadline(t)
	return z.SetWriteDeadline(t)
}

func (z *lazyConn) SetReadDeadline(t time.Time) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.nc != nil {
		return z.nc.SetReadDeadline(t)
	}
	z.rdl = t
	return nil
}

func (z *lazyConn) SetWriteDeadline(t time.Time) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.nc != nil {
		return z.nc.SetWriteDeadline(t)
	}
	z.wdl = t
	return nil
}
