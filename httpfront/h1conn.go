package httpfront

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Connection states, for Shutdown.
const (
	stateActive int32 = iota
	stateIdle         // waiting for the first byte of a request
	stateClosed       // closed by Shutdown
)

// fastConn is one plain HTTP/1.1 connection served by the fast path
// until it sends a request the fast path does not take; from then on
// net/http serves it.
type fastConn struct {
	srv    *fastServer
	nc     net.Conn
	state  atomic.Int32
	buf    []byte // request bytes; [r0:r1] are not consumed yet
	r0, r1 int
	scan   int // buf[r0:r0+scan] holds no head's end (an event loop's scan so far)
	// headLen is the length of the head parsed last: the request's
	// strings share one copy of it (dropHead).
	headLen int
	out     outBuf
	w       fastWriter
	head    fastHead
	hdr     http.Header
	vals    []string
	url     url.URL
	req     http.Request
	tmpl    *http.Request // carries the connection's context
	remote  string
	rdl     coarseDeadline
	wdl     coarseDeadline
	lc      *loopConn // an event loop's connection (its loop serves it while in evLoop.conns)
	// now is when the request being answered came (respond reads the
	// clock once for it): a prepared answer's Date and, for an answer
	// from memory, the cache's TTL and the deadlines.
	now time.Time
	lz  lazyConn // the connection once its loop handed it to a goroutine

	ncMu sync.Mutex // guards nc against Shutdown while a loop hands it off
}

const initialReadBuf = 4096

// newFastConn returns a connection on nc whose requests start from tmpl;
// nil makes one for nc's local address.
func newFastConn(fs *fastServer, nc net.Conn, tmpl *http.Request) *fastConn {
	c := &fastConn{srv: fs, nc: nc, buf: make([]byte, initialReadBuf), hdr: http.Header{},
		remote: nc.RemoteAddr().String(), tmpl: tmpl}
	c.out = outBuf{nc: nc, b: make([]byte, 0, outBufSize)}
	c.w = fastWriter{c: c, bw: &c.out, header: http.Header{}, pending: make([]byte, 0, pendingMax)}
	if tmpl == nil {
		c.tmpl = requestTemplate(nc.LocalAddr())
	}
	if lc, ok := nc.(*loopConn); ok {
		c.lc = lc
	} else {
		setNotSentLowat(nc)
	}
	return c
}

// requestTemplate is the request a connection's requests are copied from:
// its context carries the local address (SERVER_ADDR for apps).
func requestTemplate(local net.Addr) *http.Request {
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, local)
	return (&http.Request{}).WithContext(ctx)
}

// reuse readies a closed connection for a new socket nc with request
// template tmpl; its buffers stay.
func (c *fastConn) reuse(nc net.Conn, tmpl *http.Request) {
	c.nc, c.tmpl, c.remote = nc, tmpl, nc.RemoteAddr().String()
	c.state.Store(stateActive)
	c.r0, c.r1, c.scan = 0, 0, 0
	c.out = outBuf{nc: nc, b: c.out.b[:0]}
	c.rdl, c.wdl = coarseDeadline{}, coarseDeadline{}
}

// setConn replaces the connection's net.Conn (the same socket, handed off
// by an event loop) and its request template.
func (c *fastConn) setConn(nc net.Conn, tmpl *http.Request) {
	c.ncMu.Lock()
	defer c.ncMu.Unlock()
	c.nc, c.out.nc, c.tmpl = nc, nc, tmpl
	c.rdl, c.wdl = coarseDeadline{}, coarseDeadline{}
}

// closeIfIdle closes the connection if it waits for a request (Shutdown).
func (c *fastConn) closeIfIdle() {
	c.ncMu.Lock()
	defer c.ncMu.Unlock()
	if c.state.CompareAndSwap(stateIdle, stateClosed) {
		c.nc.Close()
	}
}

// serve reads and answers requests until the connection closes or is
// handed off. A loop's connection closed here goes back to its loop's
// free list.
func (c *fastConn) serve() {
	closed := c.serveConn()
	c.srv.untrack(c)
	if closed && c.lc != nil {
		c.lc.loop.release(c)
	}
}

// serveConn serves the connection; true when it ended closed, false when
// net/http has it or it was refused.
func (c *fastConn) serveConn() bool {
	first := true
	for {
		n, err := c.readHead(first)
		first = false
		if err != nil {
			if errors.Is(err, errHandOff) {
				c.handOff()
				return false
			}
			c.nc.Close()
			return true
		}
		if head := c.buf[c.r0 : c.r0+n]; !c.serveOne(head) {
			if framingFault(head) {
				c.refuse()
				return false
			}
			c.handOff() // head complete but not for us: r0 still at its start
			return false
		}
		c.r0 += n
		if c.w.closeAfter || c.srv.closing.Load() {
			c.nc.Close()
			return true
		}
	}
}

var errHandOff = errors.New("hand off to net/http")

// readHead makes sure that buf[r0:] starts with a complete head and
// returns its length; errHandOff when net/http should take over, another
// error when the connection is done.
func (c *fastConn) readHead(first bool) (int, error) {
	if c.r0 == c.r1 {
		c.drained()
	} else if c.r0 > 0 && c.r0+c.srv.maxHead > len(c.buf) {
		c.r1 = copy(c.buf, c.buf[c.r0:c.r1])
		c.r0 = 0
	}
	scanned := 0
	var headerDeadlineSet bool
	if first {
		c.setReadTimeout(c.srv.headerTimeout)
		headerDeadlineSet = true
	}
	for {
		if c.r1 > c.r0 {
			if n := headEnd(c.buf[c.r0:c.r1], scanned); n > 0 {
				if n > c.srv.maxHead {
					return 0, errHandOff // too large: net/http answers 431
				}
				return n, nil
			}
			scanned = c.r1 - c.r0
			if !headerDeadlineSet {
				c.setReadTimeout(c.srv.headerTimeout)
				headerDeadlineSet = true
			}
			if c.r1-c.r0 >= c.srv.maxHead {
				return 0, errHandOff // too large: net/http answers 431
			}
			if c.r1 == len(c.buf) {
				c.grow()
			}
		} else {
			// Nothing of a request yet: Shutdown may close the
			// connection (the first request keeps its header
			// deadline from accept).
			if !c.state.CompareAndSwap(stateActive, stateIdle) && c.state.Load() != stateIdle {
				return 0, net.ErrClosed
			}
			if !headerDeadlineSet {
				c.setReadTimeout(c.srv.idleTimeout)
			}
		}
		m, err := c.nc.Read(c.buf[c.r1:])
		if m > 0 && !c.state.CompareAndSwap(stateIdle, stateActive) && c.state.Load() == stateClosed {
			return 0, net.ErrClosed
		}
		c.r1 += m
		if err != nil {
			if m > 0 {
				continue // look at what came first
			}
			if errors.Is(err, io.EOF) && c.r1 > c.r0 {
				return 0, errHandOff // a truncated head: net/http's answer
			}
			return 0, err
		}
	}
}

// dropHead lets go of the last request's strings once it is answered:
// they share the copy of its head, which an idle connection should not
// keep when the head was long.
func (c *fastConn) dropHead() {
	clear(c.hdr)
	clear(c.vals[:cap(c.vals)])
	c.head, c.url, c.req = fastHead{}, url.URL{}, http.Request{}
}

// drained readies the empty buffer for the next head, giving back one
// that a long head grew: an idle connection keeps initialReadBuf bytes.
func (c *fastConn) drained() {
	c.r0, c.r1, c.scan = 0, 0, 0
	if len(c.buf) > initialReadBuf {
		c.buf = make([]byte, initialReadBuf)
	}
}

// grow makes room for more of a head, up to the header limit.
func (c *fastConn) grow() {
	if c.r0 > 0 {
		c.r1 = copy(c.buf, c.buf[c.r0:c.r1])
		c.r0 = 0
		return
	}
	nb := make([]byte, min(2*len(c.buf), c.srv.maxHead+initialReadBuf))
	copy(nb, c.buf[:c.r1])
	c.buf = nb
}

// serveOne answers the request whose head is b; false means the request
// is not one for the fast path (nothing was written).
func (c *fastConn) serveOne(b []byte) bool {
	r, ok := c.parse(b)
	if !ok {
		return false
	}
	c.respond(r, false)
	return true
}

// parse makes the connection's request from the head b; false means the
// request is not one for the fast path.
func (c *fastConn) parse(b []byte) (*http.Request, bool) {
	headStr := string(b)
	c.headLen = len(b)
	var ok bool
	if c.vals, ok = parseHead(headStr, &c.head, c.hdr, c.vals); !ok {
		return nil, false
	}
	u, err := setURL(&c.url, c.head.target)
	if err != nil {
		return nil, false
	}
	r := &c.req
	*r = *c.tmpl
	r.Method, r.URL, r.RequestURI, r.Host = c.head.method, u, c.head.target, c.head.host
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header, r.Body, r.Close, r.RemoteAddr = c.hdr, http.NoBody, c.head.close, c.remote
	return r, true
}

// respond runs the handler for r and sends the response; with
// memoryOnly, only a response from memory (Server.serveFromMemory): false
// then means nothing was written.
func (c *fastConn) respond(r *http.Request, memoryOnly bool) bool {
	c.w.reset(c.head.method == http.MethodHead, c.head.close)
	c.now = time.Now()
	served, ok := c.run(r, memoryOnly)
	if c.headLen > initialReadBuf {
		c.dropHead()
	}
	switch {
	case !served:
		return false
	case !ok:
		c.w.closeAfter = true
		return true
	}
	c.w.finish()
	c.w.flushConn()
	return true
}

// run calls the handler, recovering from a panic as net/http does: the
// connection is closed after what was already committed; ok false reports
// one.
func (c *fastConn) run(r *http.Request, memoryOnly bool) (served, ok bool) {
	defer func() {
		if err := recover(); err != nil {
			if err != http.ErrAbortHandler {
				const size = 64 << 10
				buf := make([]byte, size)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.errLog.Printf("http: panic serving %v: %v\n%s", c.remote, err, buf)
			}
			c.w.flushConn()
			served, ok = true, false
		}
	}()
	if memoryOnly {
		return c.srv.s.serveFromMemory(&c.w, r, c.now), true
	}
	c.srv.s.ServeHTTP(&c.w, r)
	return true, true
}

// handOff gives the connection to net/http with the bytes not consumed
// (a loop's connection detached first: net/http sets deadlines from other
// goroutines to interrupt a read).
func (c *fastConn) handOff() {
	nc := c.nc
	if nc == &c.lz {
		var err error
		if nc, err = c.lz.netConn(); err != nil {
			c.lz.Close()
			return
		}
	}
	rest := append([]byte(nil), c.buf[c.r0:c.r1]...)
	_ = nc.SetDeadline(time.Time{})
	c.rdl, c.wdl = coarseDeadline{}, coarseDeadline{}
	c.srv.handoff.push(&replayConn{Conn: nc, buf: rest})
}

// setReadTimeout sets the read deadline d from now (coarsely).
func (c *fastConn) setReadTimeout(d time.Duration) {
	_ = c.rdl.set(time.Now().Add(d), deadlineSlack(d), c.nc.SetReadDeadline)
}

// coarseDeadline arms a connection deadline up to a slack later than asked
// and leaves it alone while later requests ask for no later than that:
// re-arming the runtime's timer for every request of a keep-alive
// connection cost 4% of a small static response's CPU.
type coarseDeadline struct{ armed time.Time }

func (d *coarseDeadline) set(t time.Time, slack time.Duration, apply func(time.Time) error) error {
	if t.IsZero() {
		d.armed = t
		return apply(t)
	}
	if !d.armed.IsZero() && !t.After(d.armed) && d.armed.Sub(t) <= slack {
		return nil
	}
	d.armed = t.Add(slack)
	return apply(d.armed)
}

// deadlineSlack is how much later than asked a timeout of d may fire.
func deadlineSlack(d time.Duration) time.Duration { return min(d/16, 250*time.Millisecond) }

// notSentLowat bounds the bytes queued in a connection's socket but not
// yet sent (TCP_NOTSENT_LOWAT): a large file then goes out as the client
// takes it, a little ahead, instead of a megabyte at once into a send
// buffer that the client's receive window drains slowly; the bytes in
// flight (the congestion window) are not limited by it. On loopback this
// took 1 MiB responses from 3.0k to 6.6-7.7k req/s (lighttpd 7.4-7.8k;
// 32 KiB: 6.2-7.1k, 64 KiB and more: less);
// TCP_CORK or a smaller SO_SNDBUF (which would also cap the bytes in
// flight, and so a distant client's throughput) were worse or unsafe.
const notSentLowat = 16 << 10

func setNotSentLowat(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	if raw, err := tc.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { setNotSentLowatFD(int(fd)) })
	}
}

func setNotSentLowatFD(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSentLowat)
}
