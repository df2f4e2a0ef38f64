package httpfront

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// loopConn is a connection an event loop serves: a non-blocking socket
// the loop owns. It is the net.Conn the fast path's writer sees: a write
// the socket does not take whole is kept for the loop to finish; deadlines
// are times the loop's sweep checks. Only the loop's goroutine uses it,
// except Close (Shutdown), which only shuts the socket down: the loop
// closes the descriptor.
type loopConn struct {
	fd           int
	loop         *evLoop
	laddr, raddr net.Addr
	pending      []byte // response bytes the socket has not taken yet
	rdl, wdl     int64  // deadlines, unix nanoseconds; 0 for none
	inHead       bool   // rdl is a head's deadline, not the idle one
	closeAfter   bool   // close once pending is out
	registered   bool   // in the loop's epoll set
	lowat        bool   // TCP_NOTSENT_LOWAT set

	mu       sync.Mutex // guards fd against Close racing closeFD
	fdClosed bool
	closed   atomic.Bool
}

var errLoopRead = errors.New("event loop connection: reads are the loop's")

func (lc *loopConn) Read([]byte) (int, error) { return 0, errLoopRead }

// Write writes p now or, when the socket is full, keeps the rest for the
// loop to send when it is writable.
func (lc *loopConn) Write(p []byte) (int, error) {
	if lc.closed.Load() {
		return 0, net.ErrClosed
	}
	if len(lc.pending) > 0 {
		lc.pending = append(lc.pending, p...)
		return len(p), nil
	}
	for n := 0; n < len(p); {
		m, err := rawWrite(lc.fd, p[n:])
		if m > 0 {
			n += m
		}
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			lc.pending = append([]byte(nil), p[n:]...)
			if err := lc.loop.waitWritable(lc); err != nil {
				return n, os.NewSyscallError("epoll_ctl", err)
			}
			return len(p), nil
		case err != nil:
			return n, &net.OpError{Op: "write", Net: "tcp", Source: lc.laddr, Addr: lc.raddr, Err: os.NewSyscallError("write", err)}
		}
	}
	return len(p), nil
}

// Close shuts the socket down; the loop then closes it.
func (lc *loopConn) Close() error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !lc.fdClosed && !lc.closed.Load() {
		_ = unix.Shutdown(lc.fd, unix.SHUT_RDWR)
	}
	lc.closed.Store(true)
	return nil
}

// closeFD closes the descriptor (the loop's, once).
func (lc *loopConn) closeFD() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !lc.fdClosed {
		lc.fdClosed = true
		_ = rawClose(lc.fd)
	}
}

// giveUp hands the descriptor over (to a lazyConn); false when Shutdown
// closed the connection first (the descriptor is then closed).
func (lc *loopConn) giveUp() (int, bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.fdClosed {
		return -1, false
	}
	lc.fdClosed = true
	if lc.closed.Load() {
		_ = rawClose(lc.fd)
		return -1, false
	}
	return lc.fd, true
}

func (lc *loopConn) LocalAddr() net.Addr  { return lc.laddr }
func (lc *loopConn) RemoteAddr() net.Addr { return lc.raddr }

func (lc *loopConn) SetDeadline(t time.Time) error {
	lc.SetReadDeadline(t)
	return lc.SetWriteDeadline(t)
}

func (lc *loopConn) SetReadDeadline(t time.Time) error {
	lc.rdl = unixNanoOrZero(t)
	return nil
}

func (lc *loopConn) SetWriteDeadline(t time.Time) error {
	lc.wdl = unixNanoOrZero(t)
	return nil
}

func unixNanoOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
