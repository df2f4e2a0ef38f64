package fcgiserver

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// Reasons Serve returns after a graceful stop.
var (
	ErrServerClosed = errors.New("fcgiserver: server closed")
	ErrRecycled     = errors.New("fcgiserver: MaxRequests reached, process recycles")
)

// Server hosts an http.Handler as a FastCGI responder.
type Server struct {
	// ErrorLog receives connection and handler errors; nil means standard
	// error with the prefix "fcgiserver: ". Set it before Serve.
	ErrorLog *log.Logger

	handler http.Handler
	cfg     Config
	pool    *pool

	connBufs sync.Pool // *connBufs
	bodyBufs sync.Pool // *[]byte of bodyBufSize

	inflight tracker // requests between BEGIN_REQUEST and END_REQUEST
	stopping atomic.Bool
	stats    counters

	mu       sync.Mutex
	conns    map[*conn]struct{}
	ln       net.Listener
	serving  bool
	stopErr  error
	stopOnce sync.Once
	stopCh   chan struct{} // closed when stopping begins
	doneCh   chan struct{} // closed when Serve returns
}

type counters struct {
	served, overloaded, cancelled, conns atomic.Int64
}

// New returns a Server for h with cfg (start from DefaultConfig or
// ConfigFromEnv).
func New(h http.Handler, cfg Config) (*Server, error) {
	if h == nil {
		return nil, errors.New("fcgiserver: nil handler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		handler: h,
		cfg:     cfg,
		conns:   make(map[*conn]struct{}),
		stopCh:  make(chan struct{}),
		doneCh:  make(chan struct{}),
	}
	s.pool = newPool(s, cfg)
	s.connBufs.New = func() any {
		return &connBufs{rd: record.NewReader(nil)}
	}
	s.bodyBufs.New = func() any {
		b := make([]byte, 0, bodyBufSize)
		return &b
	}
	return s, nil
}

// Config returns the server's configuration.
func (s *Server) Config() Config { return s.cfg }

// Stats is a snapshot of the server's counters.
type Stats struct {
	PoolStats
	Served     int64 // requests handed to the handler
	Overloaded int64 // requests refused with FCGI_OVERLOADED
	Cancelled  int64 // requests ended by abort, lost connection, timeout or shutdown
	Conns      int64 // open connections
}

// Stats returns current counters.
func (s *Server) Stats() Stats {
	return Stats{
		PoolStats:  s.pool.stats(),
		Served:     s.stats.served.Load(),
		Overloaded: s.stats.overloaded.Load(),
		Cancelled:  s.stats.cancelled.Load(),
		Conns:      s.stats.conns.Load(),
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	fmt.Fprintf(os.Stderr, "fcgiserver: "+format+"\n", args...)
}

// Serve accepts connections on ln until Shutdown is called or MaxRequests
// requests were served, then stops accepting, lets in-flight requests finish
// within ShutdownGrace, cancels the rest, and returns ErrServerClosed or
// ErrRecycled. Any other error is an accept failure. Serve may be called once.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("fcgiserver: Serve called twice")
	}
	s.serving, s.ln = true, ln
	s.mu.Unlock()
	defer close(s.doneCh)
	if s.stopping.Load() {
		ln.Close()
	}
	s.pool.start()
	err := s.acceptLoop(ln)
	s.stop(err)
	s.drain()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopErr
}

func (s *Server) acceptLoop(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("accepting: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("fcgiserver: accepting connections: %w", err)
		}
		backoff = 0
		if !s.allowed(nc) {
			s.logf("refusing connection from %v: not in %s", nc.RemoteAddr(), EnvWebServerAddrs)
			nc.Close()
			continue
		}
		s.track(nc)
	}
}

// isTemporary reports accept errors worth retrying (EMFILE, ENFILE, ...).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// allowed applies FCGI_WEB_SERVER_ADDRS to TCP peers.
func (s *Server) allowed(nc net.Conn) bool {
	if len(s.cfg.WebServerAddrs) == 0 {
		return true
	}
	ta, ok := nc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return true // unix sockets are protected by file permissions
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	for _, a := range s.cfg.WebServerAddrs {
		if a == ip.Unmap() {
			return true
		}
	}
	return false
}

func (s *Server) track(nc net.Conn) {
	bufs := s.connBufs.Get().(*connBufs)
	bufs.rd.Reset(nc)
	c := &conn{srv: s, nc: nc, bufs: bufs, wbuf: bufs.wbuf}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	stopping := s.stopping.Load()
	s.mu.Unlock()
	s.stats.conns.Add(1)
	if stopping {
		c.close() // accepted while stop began: it carries no request yet
	}
	go c.serve()
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stats.conns.Add(-1)
}

// dispatch runs a request whose PARAMS are complete, or refuses it.
func (s *Server) dispatch(req *request, params string) {
	if req.finished.Load() {
		return // aborted before its PARAMS ended
	}
	if s.stopping.Load() || !s.pool.acquire() {
		s.stats.overloaded.Add(1)
		req.c.reject(req, "503 Service Unavailable", record.StatusOverloaded)
		return
	}
	hr, err := s.newHTTPRequest(req, params)
	if err != nil {
		s.pool.release()
		s.logf("bad request from %v: %v", req.c.nc.RemoteAddr(), err)
		req.c.reject(req, "400 Bad Request", record.StatusRequestComplete)
		return
	}
	n := s.stats.served.Add(1)
	if m := s.cfg.MaxRequests; m > 0 && n == int64(m) {
		go s.stop(ErrRecycled)
	}
	req.hr = hr
	s.pool.run(req)
}

// getValues appends the GET_VALUES_RESULT for the names asked in content.
func (s *Server) getValues(out []byte, content []byte) []byte {
	var body [128]byte
	b := body[:0]
	for rest := content; len(rest) > 0; {
		name, _, r, err := record.NextPair(rest)
		if err != nil {
			break
		}
		rest = r
		switch string(name) {
		case record.ValueMaxConns, record.ValueMaxReqs:
			b = record.AppendPair(b, string(name), strconv.Itoa(s.cfg.MaxThreads))
		case record.ValueMpxsConns:
			b = record.AppendPair(b, record.ValueMpxsConns, "0")
		}
	}
	if len(b) > record.MaxContent {
		b = b[:0]
	}
	return record.AppendRecord(out, record.TypeGetValuesResult, 0, b)
}
