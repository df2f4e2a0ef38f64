package httpfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// Server runs a Front on one or two listeners (HTTP, and HTTPS with
// HTTP/2 when the spec has a certificate), with the spec's timeouts and
// limits, an access log, graceful reload and graceful stop.
type Server struct {
	cfg          spec.Front
	opt          Options
	cur          atomic.Pointer[Front]
	log          *accessLog
	writeTimeout time.Duration
	bodyTimeout  time.Duration
	servers      []*http.Server
	fast         *fastServer      // plain HTTP/1.1, handing off to servers[0]
	auto         *autoTLS         // spec.ACME's certificates (acme.go), or nil
	own          *tls.Certificate // the spec's certificate of one's own, or nil
	https        *httpsPolicy     // redirect and HSTS, nil without HTTPS
}

// ServerOptions are the Server's settings that do not come from the spec.
type ServerOptions struct {
	Options
	// AccessLog receives the access log; default os.Stdout. The spec's
	// access_log = "off" disables it.
	AccessLog io.Writer
	// ErrorLog receives the HTTP server's own errors; default stderr.
	ErrorLog *log.Logger
	// netHTTPOnly (tests) serves plain HTTP with net/http alone.
	netHTTPOnly bool
	// noLoops (tests) serves the fast path with a goroutine per
	// connection only.
	noLoops bool
	// acme (tests) tunes automatic HTTPS.
	acme acmeOptions
}

// NewServer builds the front end for cfg.
func NewServer(cfg spec.Front, so ServerOptions) (*Server, error) {
	s := &Server{
		cfg: cfg, opt: so.Options,
		writeTimeout: ms(cfg.WriteTimeoutMS, 30*time.Second),
		bodyTimeout:  ms(cfg.ReadBodyTimeoutMS, 30*time.Second),
	}
	var err error
	if cfg.ACME != nil {
		logf := so.Logf
		if logf == nil {
			logf = log.Printf
		}
		if s.auto, err = newAutoTLS(*cfg.ACME, cfg.Listen, logf, so.acme); err != nil {
			return nil, err
		}
		s.opt.certStatus = s.ACMEStatus
		s.https = &httpsPolicy{covers: s.auto.covers, challenge: s.auto.isChallenge}
	} else if cfg.TLSCert != "" && cfg.TLSKey != "" {
		c, err := ownCert(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, err
		}
		s.own = &c
		s.https = &httpsPolicy{covers: coversHost(c)}
	}
	if s.https != nil {
		s.https.redirect, s.https.hsts, s.https.httpsPort = cfg.RedirectHTTP, cfg.HSTS, tlsPort(cfg.TLSListen)
	}
	f, err := NewWithOptions(cfg, s.opt)
	if err != nil {
		if s.auto != nil {
			s.auto.stop()
		}
		return nil, err
	}
	s.cur.Store(f)
	if cfg.AccessLog != "off" {
		w := so.AccessLog
		if w == nil {
			w = os.Stdout
		}
		s.log = newAccessLog(w)
	}
	errLog := so.ErrorLog
	if errLog == nil {
		errLog = log.New(os.Stderr, "httpfront: ", 0)
	}
	maxHeader := cfg.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = defaultMaxHeader
	}
	for range 2 {
		s.servers = append(s.servers, &http.Server{
			Handler:           s,
			ReadHeaderTimeout: ms(cfg.ReadHeaderTimeoutMS, 10*time.Second),
			IdleTimeout:       ms(cfg.IdleTimeoutMS, 60*time.Second),
			MaxHeaderBytes:    maxHeader,
			ErrorLog:          errLog,
		})
	}
	s.servers[1].TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: tls12Suites}
	if s.own != nil {
		s.servers[1].TLSConfig.Certificates = []tls.Certificate{*s.own}
	}
	if s.auto != nil {
		tc := s.auto.tlsConfig()
		tc.MinVersion, tc.CipherSuites = tls.VersionTLS12, tls12Suites
		tc.NextProtos = append([]string{"h2", "http/1.1"}, tc.NextProtos...)
		s.servers[1].TLSConfig = tc
	}
	if !so.netHTTPOnly {
		s.fast = newFastServer(s, s.servers[0])
		s.fast.useLoops = !so.noLoops
	}
	return s, nil
}

// Serve serves plain HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	var err error
	if s.fast != nil {
		err = s.fast.serve(ln, s.servers[0])
	} else {
		err = s.servers[0].Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP: %w", err)
	}
	return nil
}

// ServeTLS serves HTTPS (HTTP/2 and HTTP/1.1) on ln with the spec's
// certificate, or with ACME's (which it starts managing), until Shutdown.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.auto != nil {
		if err := s.auto.run(ln); err != nil {
			return fmt.Errorf("serving HTTPS: %w", err)
		}
	} else if s.own == nil {
		return errors.New("serving HTTPS: the spec has no tls_cert/tls_key")
	}
	if err := s.servers[1].ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTPS: %w", err)
	}
	return nil
}

// Reload switches to a front end built from cfg. Requests in flight finish
// on the old one, which is closed after them; listeners, server timeouts
// and TLS files stay as they were at start.
func (s *Server) Reload(cfg spec.Front) error {
	f, err := NewWithOptions(cfg, s.opt)
	if err != nil {
		return fmt.Errorf("reloading: %w", err)
	}
	old := s.cur.Swap(f)
	go old.Close()
	return nil
}

// Shutdown stops accepting, waits for requests in flight (up to ctx),
// then releases the front end and flushes the access log.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.fast != nil {
		errs = append(errs, s.fast.shutdown(ctx))
		s.fast.handoff.Close()
	}
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	// A slow download or app request must not hold shutdown past ctx.
	closed := make(chan struct{})
	go func() { s.cur.Load().Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("requests still in flight at the end of the grace period: %w", ctx.Err()))
	}
	if s.log != nil {
		s.log.close()
	}
	if s.auto != nil {
		s.auto.stop()
	}
	return errors.Join(errs...)
}

// acquire returns the current front end, counted in so that a reload
// closes it only after this request; the caller calls f.use.leave.
func (s *Server) acquire() *Front {
	for {
		if f := s.cur.Load(); f.use.enter() {
			return f
		}
		runtime.Gosched() // a reload is swapping it; Shutdown's is final
	}
}

// ServeHTTP applies per-request deadlines, routes through the current
// front end and logs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.TLS != nil:
		s.https.markHTTPS(w)
	case s.auto != nil && s.auto.serveChallenge(w, r):
		return
	case s.https.redirects(r):
		s.https.sendToHTTPS(w, r)
		return
	}
	f := s.acquire()
	defer f.use.leave()
	s.serve(f, f.route(r), w, r)
}

// serveFromMemory serves r as ServeHTTP does if the front end answers it
// from memory (routed.fromMemory); otherwise it reports false and writes
// nothing.
func (s *Server) serveFromMemory(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	if (s.auto != nil && s.auto.isChallenge(r)) || s.https.redirects(r) {
		return false
	}
	f := s.acquire()
	defer f.use.leave()
	rt := f.route(r)
	if !rt.fromMemory(now.UnixNano()) {
		return false
	}
	s.serveAt(f, rt, w, r, now)
	return true
}

// serve answers r, routed to rt, through f.
func (s *Server) serve(f *Front, rt routed, w http.ResponseWriter, r *http.Request) {
	s.serveAt(f, rt, w, r, time.Now())
}

// serveAt is serve for a request that came at now.
func (s *Server) serveAt(f *Front, rt routed, w http.ResponseWriter, r *http.Request, now time.Time) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(now.Add(s.writeTimeout))
	if r.ContentLength != 0 {
		_ = rc.SetReadDeadline(now.Add(s.bodyTimeout))
	}
	if s.log == nil {
		f.serveRouted(w, r, rt)
		return
	}
	lw := &logWriter{ResponseWriter: w}
	defer func() { s.log.log(r, lw.status, lw.size, now) }()
	f.serveRouted(lw, r, rt)
}
