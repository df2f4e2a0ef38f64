package httpfront

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// evLoop serves plain HTTP/1.1 connections without a goroutine each, as
// lighttpd does: one epoll set per loop, level-triggered, read once per
// readiness, answer every complete request in the buffer, write. The epoll
// descriptor itself waits in the Go runtime's poller, so an idle loop
// parks like any goroutine and a busy one never blocks a thread. Every
// loop accepts from the listeners itself (h1accept.go).
//
// A loop answers only requests the handler answers from memory
// (Server.serveFromMemory: cached small files, error pages, redirects).
// Before any other request the connection leaves the loop for a goroutine
// of its own (the fast path's blocking mode, which may hand it on to
// net/http), with what was read and the request not yet answered. A
// response the socket does not take at once is kept and sent when the
// socket is writable; the connection reads nothing more until then.
//
// Per request this saves the read that finds nothing (a goroutine must try
// before it parks), the park and wake, and re-arming timers: on this 2-core
// box, with wrk on the same cores, a 1 KiB file took 6.3-6.5 us of
// front-end CPU per request with a goroutine per connection and 4.7-5.1
// with the loops (lighttpd 4.1-4.2), and 1.15-1.21x lighttpd's requests
// per second instead of 0.92-0.97x (bench/front.sh).
type evLoop struct {
	fs        *fastServer
	epfd      int
	wakefd    int      // eventfd: new listeners, sweeps, shutdown
	epFile    *os.File // epfd in the runtime poller
	conns     map[int]*fastConn
	listeners map[int]*loopListener // in the epoll set, by descriptor
	paused    map[*loopListener]time.Time
	backoff   acceptBackoff
	freeMu    sync.Mutex  // guards free: goroutines give connections back
	free      []*fastConn // closed connections to reuse
	events    []unix.EpollEvent
	swept     time.Time
	// handled counts events since the loop last yielded.
	handled int
	// scanned counts the head bytes the loop has looked through for
	// line ends (tests: each byte once, however the head arrives).
	scanned int64
	stopped chan struct{}

	mu           sync.Mutex
	newListeners []*loopListener // for the loop to add (guarded by mu)
}

// yieldEvery is how many events a busy loop handles between yields. A
// goroutine that runs 10 ms without one is preempted by the runtime's
// monitor, which then keeps polling every 20 us (3.5% of the CPU of a
// loop serving small files); a yield now and then avoids both.
const yieldEvery = 256

// sweepEvery is how often a loop closes connections past their deadline;
// deadlines fire up to this late.
const sweepEvery = 250 * time.Millisecond

func newEvLoop(fs *fastServer) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating epoll set: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("creating eventfd: %w", err)
	}
	l := &evLoop{fs: fs, epfd: epfd, wakefd: wakefd, conns: map[int]*fastConn{},
		listeners: map[int]*loopListener{}, paused: map[*loopListener]time.Time{},
		events: make([]unix.EpollEvent, 128), stopped: make(chan struct{})}
	err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)})
	if err == nil {
		err = unix.SetNonblock(epfd, true)
	}
	if err != nil {
		unix.Close(wakefd)
		unix.Close(epfd)
		return nil, fmt.Errorf("setting up epoll set: %w", err)
	}
	l.epFile = os.NewFile(uintptr(epfd), "epoll")
	// Only a descriptor in the runtime's poller takes a deadline.
	if err := l.epFile.SetReadDeadline(time.Time{}); err != nil {
		l.epFile.Close()
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll set not pollable: %w", err)
	}
	return l, nil
}

// run serves until the fast server shuts down and the loop has no
// connections left.
func (l *evLoop) run() {
	defer close(l.stopped)
	defer unix.Close(l.wakefd)
	defer l.epFile.Close()
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	go func() {
		for {
			select {
			case <-tick.C:
				l.wake()
			case <-l.stopped:
				return
			}
		}
	}()
	rc, err := l.epFile.SyscallConn()
	if err == nil {
		err = rc.Read(func(uintptr) bool { return l.poll() })
	}
	if err != nil {
		l.fs.errLog.Printf("http: event loop: %v", err)
	}
	for _, ll := range l.listeners {
		l.unlisten(ll)
	}
	for fd := range l.conns {
		l.closeConn(l.conns[fd])
	}
	if !l.fs.closing.Load() {
		l.fs.failLoops()
	}
}

// poll handles what is ready; false means nothing is, and the runtime
// should wake the loop when something is; true ends the loop. It parks
// only after a poll that found nothing: a level-triggered descriptor still
// ready after being reported is back in the ready list without a new
// wake-up for the runtime's poller.
func (l *evLoop) poll() bool {
	for {
		n, err := rawEpollPoll(l.epfd, l.events)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			l.fs.errLog.Printf("http: event loop: epoll_wait: %v", err)
			return true
		}
		for i := range n {
			l.handle(l.events[i])
		}
		if l.handled += n; l.handled >= yieldEvery {
			l.handled = 0
			runtime.Gosched()
		}
		if len(l.conns) == 0 && l.fs.closing.Load() {
			return true
		}
		if n == 0 {
			return false
		}
	}
}

// listen makes the loop accept from ll.
func (l *evLoop) listen(ll *loopListener) {
	l.mu.Lock()
	l.newListeners = append(l.newListeners, ll)
	l.mu.Unlock()
	l.wake()
}

// unlisten takes ll out of the loop's epoll set.
func (l *evLoop) unlisten(ll *loopListener) {
	if l.listeners[ll.fd] == ll {
		delete(l.listeners, ll.fd)
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, ll.fd, nil)
	}
}

func (l *evLoop) relisten(ll *loopListener) {
	delete(l.paused, ll)
	if l.fs.closing.Load() {
		return
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, ll.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ll.fd)}); err != nil {
		l.fs.errLog.Printf("http: event loop: adding a listener: %v", err)
		return
	}
	l.listeners[ll.fd] = ll
}

func (l *evLoop) wake() {
	var one = [8]byte{1}
	_, _ = unix.Write(l.wakefd, one[:])
}

func (l *evLoop) handle(ev unix.EpollEvent) {
	fd := int(ev.Fd)
	if fd == l.wakefd {
		l.woken()
		return
	}
	c := l.conns[fd]
	if c == nil {
		if ll := l.listeners[fd]; ll != nil {
			l.accept(ll)
		}
		return
	}
	lc := c.lc
	if ev.Events&unix.EPOLLOUT != 0 && len(lc.pending) > 0 {
		if !l.flush(c) {
			return
		}
		if lc.closeAfter {
			l.closeConn(c)
			return
		}
		l.process(c)
		return
	}
	if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLRDHUP|unix.EPOLLERR) != 0 {
		l.readable(c)
	}
}

// woken adds new listeners, sweeps when one is due and stops accepting
// when the server shuts down.
func (l *evLoop) woken() {
	var b [8]byte
	_, _ = unix.Read(l.wakefd, b[:])
	l.mu.Lock()
	add := l.newListeners
	l.newListeners = nil
	l.mu.Unlock()
	for _, ll := range add {
		l.relisten(ll)
	}
	if l.fs.closing.Load() {
		for _, ll := range l.listeners {
			l.unlisten(ll)
		}
	}
	if now := time.Now(); now.Sub(l.swept) >= sweepEvery {
		l.swept = now
		l.sweep(now)
		for ll, t := range l.paused {
			if now.After(t) {
				l.relisten(ll)
			}
		}
	}
}

// sweep closes connections past their deadline: a stuck response past the
// write deadline, a head past the header timeout, an idle connection past
// the idle timeout.
func (l *evLoop) sweep(now time.Time) {
	t := now.UnixNano()
	for _, c := range l.conns {
		lc := c.lc
		dl := lc.rdl
		if len(lc.pending) > 0 {
			dl = lc.wdl
		}
		if dl != 0 && t > dl || lc.closed.Load() {
			l.closeConn(c)
		}
	}
}

// readable reads once and answers what is complete.
func (l *evLoop) readable(c *fastConn) {
	if c.r0 == c.r1 {
		c.drained()
	} else if c.r1 == len(c.buf) {
		c.grow()
	}
	if c.r1 == len(c.buf) {
		l.handOff(c) // a head at the limit: net/http answers 431
		return
	}
	n, err := rawRead(c.lc.fd, c.buf[c.r1:])
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if n <= 0 {
		l.closeConn(c)
		return
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) && c.state.Load() == stateClosed {
		l.closeConn(c)
		return
	}
	c.r1 += n
	l.process(c)
}

// process answers the complete requests in the buffer while the socket
// takes the responses, and hands the connection off at the first request
// that is not the loop's.
func (l *evLoop) process(c *fastConn) {
	lc := c.lc
	answered := false // c.now is this call's last answer's time
	for len(lc.pending) == 0 {
		if c.r0 == c.r1 {
			c.drained()
			if !c.state.CompareAndSwap(stateActive, stateIdle) && c.state.Load() == stateClosed {
				l.closeConn(c)
				return
			}
			if !lc.inHead {
				now := c.now
				if !answered {
					now = time.Now()
				}
				lc.rdl = now.Add(l.fs.idleTimeout).UnixNano()
			}
			return
		}
		n := headEnd(c.buf[c.r0:c.r1], c.scan)
		l.scanned += int64(c.r1 - c.r0 - c.scan)
		if n == 0 {
			c.scan = c.r1 - c.r0 // the next read goes on from here
			if c.r1-c.r0 >= l.fs.maxHead {
				l.handOff(c) // net/http answers 431
				return
			}
			if !lc.inHead {
				lc.inHead = true
				lc.rdl = time.Now().Add(l.fs.headerTimeout).UnixNano()
			}
			return
		}
		if n > l.fs.maxHead {
			l.handOff(c)
			return
		}
		r, ok := c.parse(c.buf[c.r0 : c.r0+n])
		if !ok || !c.respond(r, true) {
			l.handOff(c)
			return
		}
		lc.inHead, answered = false, true
		c.r0, c.scan = c.r0+n, 0
		if c.w.closeAfter || l.fs.closing.Load() {
			if len(lc.pending) == 0 {
				l.closeConn(c)
			} else {
				lc.closeAfter = true
			}
			return
		}
	}
}

// flush writes what the socket did not take; true when all is out.
func (l *evLoop) flush(c *fastConn) bool {
	lc := c.lc
	for len(lc.pending) > 0 {
		n, err := rawWrite(lc.fd, lc.pending)
		if n > 0 {
			lc.pending = lc.pending[n:]
		}
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return false
		case err != nil:
			l.closeConn(c)
			return false
		}
	}
	lc.pending = nil
	if err := l.watch(lc, unix.EPOLLIN|unix.EPOLLRDHUP); err != nil {
		l.closeConn(c)
		return false
	}
	return true
}

// waitWritable switches lc from reading to waiting for room to write,
// for the first time with the not-sent limit set (notSentLowat).
func (l *evLoop) waitWritable(lc *loopConn) error {
	if !lc.lowat {
		lc.lowat = true
		setNotSentLowatFD(lc.fd)
	}
	return l.watch(lc, unix.EPOLLOUT)
}

// watch sets the events the loop waits for on lc, adding it to the epoll
// set the first time.
func (l *evLoop) watch(lc *loopConn, events uint32) error {
	op := unix.EPOLL_CTL_MOD
	if !lc.registered {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(l.epfd, op, lc.fd, &unix.EpollEvent{Events: events, Fd: int32(lc.fd)}); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	lc.registered = true
	return nil
}

// closeConn closes c for good.
func (l *evLoop) closeConn(c *fastConn) {
	lc := c.lc
	if l.conns[lc.fd] != c {
		return
	}
	delete(l.conns, lc.fd)
	l.forget(lc)
	lc.closeFD()
	c.state.Store(stateClosed)
	l.fs.untrack(c)
	l.release(c)
}

// forget takes lc out of the epoll set.
func (l *evLoop) forget(lc *loopConn) {
	if lc.registered {
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, lc.fd, nil)
		lc.registered = false
	}
}

// handOff moves c to a goroutine of its own (fastConn.serve), with the
// bytes read and not answered.
func (l *evLoop) handOff(c *fastConn) {
	lc := c.lc
	delete(l.conns, lc.fd)
	l.forget(lc)
	l.fs.loopHandoffs.Add(1)
	l.fs.serveAlone(c)
}
