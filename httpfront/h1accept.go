package httpfront

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loopListener is a listening socket the event loops accept from: a
// duplicate of a Server listener's descriptor (the listener's own raw
// connection cannot be polled), in every loop's epoll set. Each loop
// accepts what is ready when it is woken, as lighttpd does: no goroutine
// hands connections over, and a request that came with the connection is
// read and answered at once.
type loopListener struct {
	fd   int
	addr net.Addr
	tmpl *http.Request // the request template of its connections
}

// serveLoops serves ln with the event loops until Shutdown. If the loops
// stop on an error, ln is served with a goroutine per connection.
func (fs *fastServer) serveLoops(ln *net.TCPListener) error {
	ll, err := newLoopListener(ln)
	if err != nil {
		return err
	}
	if !fs.addLoopListener(ll) {
		unix.Close(ll.fd)
		return http.ErrServerClosed
	}
	for _, l := range fs.loops {
		l.listen(ll)
	}
	select {
	case <-fs.done:
		return http.ErrServerClosed
	case <-fs.loopFailed:
		fs.errLog.Printf("http: an event loop stopped: serving %s with a goroutine per connection", ln.Addr())
		return fs.serveGoroutines(ln)
	}
}

// newLoopListener duplicates ln's descriptor and sets on it what accepted
// sockets then inherit (Linux copies a listener's socket and TCP options
// to the sockets it accepts), so accepting takes no further calls.
func newLoopListener(ln *net.TCPListener) (*loopListener, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("listener: %w", err)
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("listener: %w", err)
	}
	if derr != nil {
		return nil, fmt.Errorf("duplicating the listener: %w", derr)
	}
	if err := tuneListener(nfd); err != nil {
		unix.Close(nfd)
		return nil, fmt.Errorf("listener options: %w", err)
	}
	return &loopListener{fd: nfd, addr: ln.Addr(), tmpl: requestTemplate(ln.Addr())}, nil
}

// tuneListener sets what Go sets on each accepted TCP connection (no
// Nagle, keep-alive probes after 15 s). TCP_NOTSENT_LOWAT is not
// inherited: a loop sets it on a connection whose socket fills, the
// handoff on one that leaves the loop (large files).
func tuneListener(fd int) error {
	return errors.Join(
		unix.SetNonblock(fd, true),
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1),
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15),
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15))
}

// acceptBatch bounds the connections a loop accepts in one go, so that
// the connections it serves get their turn.
const acceptBatch = 32

// accept takes the connections ready on ll and serves each at once.
func (l *evLoop) accept(ll *loopListener) {
	for range acceptBatch {
		nfd, raddr, err := rawAccept4(ll.fd)
		switch {
		case err == syscall.EAGAIN:
			return
		case err == syscall.ECONNABORTED || err == syscall.EINTR:
			continue
		case err != nil && (l.fs.closing.Load() || err == syscall.EINVAL):
			l.unlisten(ll) // shut down
			return
		case err != nil:
			l.pauseListener(ll, err) // out of descriptors or memory
			return
		}
		l.backoff.reset()
		l.handled++ // a connection served counts as an event (yieldEvery)
		l.adopt(nfd, raddr, ll)
	}
}

// adopt serves a connection just accepted: its request is usually there
// already, so it is read before the socket joins the epoll set, which a
// connection answered and closed at once never does.
func (l *evLoop) adopt(fd int, raddr *net.TCPAddr, ll *loopListener) {
	c := l.newConn(fd, raddr, ll)
	lc := c.lc
	if !l.fs.track(c) {
		lc.closeFD()
		return
	}
	lc.rdl = time.Now().Add(l.fs.headerTimeout).UnixNano()
	lc.inHead = true // the first head's deadline runs from accept
	c.state.Store(stateIdle)
	l.conns[fd] = c
	l.readable(c)
	if l.conns[fd] == c && !lc.registered {
		if err := l.watch(lc, unix.EPOLLIN|unix.EPOLLRDHUP); err != nil {
			l.fs.errLog.Printf("http: event loop: adding a connection: %v", err)
			l.closeConn(c)
		}
	}
}

// maxFreeConns bounds the connections a loop keeps for reuse (some 20 KB
// each, so at most 1.3 MB a loop): one allocated and collected per
// connection made the garbage collector the largest cost of a client that
// connects per request. 64 served 64 clients as well as 256 did.
const maxFreeConns = 64

// newConn returns a connection for fd, a free one if the loop has one.
func (l *evLoop) newConn(fd int, raddr *net.TCPAddr, ll *loopListener) *fastConn {
	l.freeMu.Lock()
	n := len(l.free)
	if n == 0 {
		l.freeMu.Unlock()
		return newFastConn(l.fs, &loopConn{fd: fd, loop: l, laddr: ll.addr, raddr: raddr}, ll.tmpl)
	}
	c := l.free[n-1]
	l.free[n-1] = nil
	l.free = l.free[:n-1]
	l.freeMu.Unlock()
	*c.lc = loopConn{fd: fd, loop: l, laddr: ll.addr, raddr: raddr}
	c.reuse(c.lc, ll.tmpl)
	return c
}

// release keeps a closed connection for reuse: one the loop closed, or
// one that a goroutine served (serveAlone) and closed. Only connections
// whose buffers are at their first size are kept.
func (l *evLoop) release(c *fastConn) {
	if c.lc == nil || len(c.buf) != initialReadBuf || cap(c.out.b) != outBufSize || cap(c.w.pending) != pendingMax {
		return
	}
	l.freeMu.Lock()
	defer l.freeMu.Unlock()
	if len(l.free) < maxFreeConns {
		l.free = append(l.free, c)
	}
}

// pauseListener stops accepting from ll for a while after an error such
// as running out of descriptors (the listener stays ready, and a loop
// would spin on it).
func (l *evLoop) pauseListener(ll *loopListener, err error) {
	l.unlisten(ll)
	d := l.backoff.next()
	l.fs.errLog.Printf("http: Accept error: %v; retrying in %v", os.NewSyscallError("accept4", err), d)
	l.paused[ll] = time.Now().Add(d)
}

// acceptBackoff is how long to wait after an accept error (out of
// descriptors, say): a little longer after each one in a row, as net/http
// does.
type acceptBackoff struct{ d time.Duration }

func (b *acceptBackoff) next() time.Duration {
	b.d = min(max(2*b.d, 5*time.Millisecond), time.Second)
	return b.d
}

func (b *acceptBackoff) wait(errLog *log.Logger, err error) {
	d := b.next()
	errLog.Printf("http: Accept error: %v; retrying in %v", err, d)
	time.Sleep(d)
}

func (b *acceptBackoff) reset() { b.d = 0 }

// serveAlone serves a loop's connection with a goroutine of its own, on
// its raw descriptor until something has to wait (lazyConn).
func (fs *fastServer) serveAlone(c *fastConn) {
	fd, ok := c.lc.giveUp()
	if !ok { // Shutdown closed it meanwhile
		c.state.Store(stateClosed)
		fs.untrack(c)
		return
	}
	tmpl := c.tmpl
	laddr := c.lc.laddr
	if a, ok := laddr.(*net.TCPAddr); !ok || a.IP.IsUnspecified() {
		// SERVER_ADDR is the address the client reached, not the
		// listener's wildcard.
		if a, err := rawGetsockname(fd); err == nil {
			laddr, tmpl = a, requestTemplate(a)
		}
	}
	c.lz.reset(fd, laddr, c.lc.raddr, &fs.detaches)
	c.setConn(&c.lz, tmpl)
	select {
	case fs.jobs <- c: // an idle worker takes it
	default:
		go fs.work(c)
	}
}

// maxIdleWorkers bounds the goroutines kept waiting for connections that
// leave the loops (a few KB of stack each, 8 KB after a FastCGI request).
// A goroutine started per connection began with a small stack that a
// FastCGI request grew and copied: 5% of the CPU of a client that
// connects per request (DESIGN.md, "Where the time goes").
const maxIdleWorkers = 64

// work serves c, then, while fewer than maxIdleWorkers wait, waits for the
// next connection a loop hands off, until Shutdown.
func (fs *fastServer) work(c *fastConn) {
	for {
		c.serve()
		if fs.idleWorkers.Add(1) > maxIdleWorkers {
			fs.idleWorkers.Add(-1)
			return
		}
		select {
		case c = <-fs.jobs:
			fs.idleWorkers.Add(-1)
		case <-fs.done:
			fs.idleWorkers.Add(-1)
			return
		}
	}
}
