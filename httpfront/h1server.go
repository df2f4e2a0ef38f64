package httpfront

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// fastServer serves plain HTTP/1.1 on the Server's listeners: GET and
// HEAD requests with simple heads go straight to the Server's handler
// through a lean response writer; a connection that sends anything else
// is handed, with the bytes already read, to net/http (the Server's
// http.Server), which keeps it from then on. Timeouts and limits are the
// http.Server's: the header timeout from the first byte of a head (from
// accept for the first request), the idle timeout between requests, and
// heads over MaxHeaderBytes go to net/http for its 431.
type fastServer struct {
	s             *Server
	errLog        *log.Logger
	headerTimeout time.Duration
	idleTimeout   time.Duration
	maxHead       int // bytes of a head the fast path reads before handing off
	dates         dateCache
	handoff       *connListener
	startHandoff  sync.Once
	useLoops      bool
	startLoops    sync.Once
	loops         []*evLoop      // set by startLoops
	loopHandoffs  atomic.Int64   // connections the loops gave a goroutine
	detaches      atomic.Int64   // of handed-off connections (lazyConn)
	jobs          chan *fastConn // to idle workers (serveAlone)
	idleWorkers   atomic.Int32

	closing   atomic.Bool
	mu        sync.Mutex
	conns     map[*fastConn]struct{}
	listeners map[net.Listener]struct{}
	idleWake  chan struct{} // closed-and-replaced when a connection ends

	loopListeners []*loopListener
	done          chan struct{} // closed by Shutdown
	loopFailed    chan struct{} // closed when a loop stops on an error
	failOnce      sync.Once
}

func newFastServer(s *Server, hs *http.Server) *fastServer {
	return &fastServer{
		s: s, errLog: hs.ErrorLog,
		headerTimeout: hs.ReadHeaderTimeout, idleTimeout: hs.IdleTimeout,
		maxHead:   hs.MaxHeaderBytes + 4096, // net/http reads this much before its 431
		handoff:   newConnListener(),
		jobs:      make(chan *fastConn),
		conns:     map[*fastConn]struct{}{},
		listeners: map[net.Listener]struct{}{},
		idleWake:  make(chan struct{}),
		done:      make(chan struct{}), loopFailed: make(chan struct{}),
	}
}

// serve accepts connections on ln until Shutdown.
func (fs *fastServer) serve(ln net.Listener, hs *http.Server) error {
	fs.mu.Lock()
	if fs.closing.Load() {
		fs.mu.Unlock()
		return http.ErrServerClosed
	}
	fs.listeners[ln] = struct{}{}
	fs.mu.Unlock()
	fs.handoff.setAddr(ln.Addr())
	fs.startHandoff.Do(func() { go hs.Serve(fs.handoff) })
	if tl, ok := ln.(*net.TCPListener); ok && fs.useLoops {
		err := fs.runLoops()
		if err == nil {
			return fs.serveLoops(tl)
		}
		fs.errLog.Printf("http: no event loops, a goroutine per connection: %v", err)
	}
	return fs.serveGoroutines(ln)
}

// serveGoroutines accepts connections on ln and serves each with a
// goroutine of its own, until Shutdown.
func (fs *fastServer) serveGoroutines(ln net.Listener) error {
	var backoff acceptBackoff
	for {
		nc, err := ln.Accept()
		if err != nil {
			if fs.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
				backoff.wait(fs.errLog, err)
				continue
			}
			return err
		}
		backoff.reset()
		c := newFastConn(fs, nc, nil)
		if !fs.track(c) {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// runLoops starts the event loops, one per GOMAXPROCS, once. (One loop
// on two cores served a 1 KiB file 15% slower than two.)
func (fs *fastServer) runLoops() error {
	var err error
	fs.startLoops.Do(func() {
		for range runtime.GOMAXPROCS(0) {
			l, lerr := newEvLoop(fs)
			if lerr != nil {
				err = lerr
				break
			}
			fs.loops = append(fs.loops, l)
			go l.run()
		}
	})
	if len(fs.loops) == 0 {
		return errors.Join(errors.New("no event loops"), err)
	}
	return nil
}

func (fs *fastServer) track(c *fastConn) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closing.Load() {
		return false
	}
	fs.conns[c] = struct{}{}
	return true
}

// addLoopListener remembers ll for Shutdown; false when it is already
// shutting down.
func (fs *fastServer) addLoopListener(ll *loopListener) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closing.Load() {
		return false
	}
	fs.loopListeners = append(fs.loopListeners, ll)
	return true
}

// failLoops tells serveLoops that a loop stopped on an error.
func (fs *fastServer) failLoops() { fs.failOnce.Do(func() { close(fs.loopFailed) }) }

func (fs *fastServer) untrack(c *fastConn) {
	fs.mu.Lock()
	delete(fs.conns, c)
	if fs.closing.Load() { // Shutdown waits for it
		close(fs.idleWake)
		fs.idleWake = make(chan struct{})
	}
	fs.mu.Unlock()
}

// shutdown stops accepting, closes idle connections and waits for the
// others to finish their request (up to ctx).
func (fs *fastServer) shutdown(ctx context.Context) error {
	fs.mu.Lock()
	first := !fs.closing.Swap(true)
	var errs []error
	for ln := range fs.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if first {
		close(fs.done)
		// The loops' duplicates keep the sockets open: stop them
		// listening (the loops then drop them).
		for _, ll := range fs.loopListeners {
			_ = unix.Shutdown(ll.fd, unix.SHUT_RD)
		}
	}
	fs.mu.Unlock()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		fs.mu.Lock()
		for c := range fs.conns {
			c.closeIfIdle()
		}
		n, wake := len(fs.conns), fs.idleWake
		fs.mu.Unlock()
		for _, l := range fs.loops {
			l.wake() // to notice the shutdown
		}
		if n == 0 {
			return errors.Join(append(errs, fs.stopLoops(ctx))...)
		}
		select {
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		case <-wake:
		case <-t.C:
		}
	}
}

// stopLoops waits for the event loops to stop, then closes the listener
// duplicates they accepted from.
func (fs *fastServer) stopLoops(ctx context.Context) error {
	for _, l := range fs.loops {
		select {
		case <-l.stopped:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, ll := range fs.loopListeners {
		unix.Close(ll.fd)
	}
	fs.loopListeners = nil
	return nil
}

// connListener feeds handed-off connections to an http.Server.
type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr atomic.Pointer[net.Addr]
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) setAddr(a net.Addr) { l.addr.CompareAndSwap(nil, &a) }

func (l *connListener) Addr() net.Addr {
	if a := l.addr.Load(); a != nil {
		return *a
	}
	return &net.TCPAddr{}
}
