package fcgiserver

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// endTimeout bounds the wait for cancelled requests to write their
// END_REQUEST after the shutdown grace period.
const endTimeout = 2 * time.Second

// tracker counts requests in flight and lets a waiter see zero.
type tracker struct {
	mu   sync.Mutex
	n    int
	zero chan struct{}
}

func (t *tracker) Add(n int) {
	t.mu.Lock()
	t.n += n
	if t.n == 0 && t.zero != nil {
		close(t.zero)
		t.zero = nil
	}
	t.mu.Unlock()
}

func (t *tracker) Done() { t.Add(-1) }

// wait reports whether the count reached zero within d.
func (t *tracker) wait(d time.Duration) bool {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return true
	}
	if t.zero == nil {
		t.zero = make(chan struct{})
	}
	ch := t.zero
	t.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

// stop begins the graceful stop once: no more accepting, idle connections
// closed, new requests refused with FCGI_OVERLOADED.
func (s *Server) stop(reason error) {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		if reason == nil {
			reason = ErrServerClosed
		}
		s.stopErr = reason
		s.stopping.Store(true)
		ln := s.ln
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		close(s.stopCh)
		if ln != nil {
			ln.Close()
		}
		for _, c := range conns {
			c.closeIfIdle()
		}
	})
}

// drain waits for in-flight requests, cancels those still running after
// ShutdownGrace, and closes every connection.
func (s *Server) drain() {
	if !s.inflight.wait(s.cfg.ShutdownGrace) {
		s.logf("shutdown grace %v over; cancelling the requests still running", s.cfg.ShutdownGrace)
		s.abandonAll()
		s.inflight.wait(endTimeout)
	}
	s.pool.close()
	s.mu.Lock()
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
}

// abandonAll ends every unfinished request with ErrShutdown.
func (s *Server) abandonAll() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		go c.abandonCur(ErrShutdown)
	}
}

// Shutdown stops the server gracefully (see Serve) and waits until Serve
// returns or ctx is done; in the latter case the requests still running are
// cancelled at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop(ErrServerClosed)
	s.mu.Lock()
	serving := s.serving
	s.mu.Unlock()
	if !serving {
		return nil
	}
	select {
	case <-s.doneCh:
		return nil
	case <-ctx.Done():
		s.abandonAll()
		return ctx.Err()
	}
}

// ListenAndServe listens as Listen does and serves until ctx is done (then
// shuts down gracefully) or MaxRequests is reached. A graceful stop returns
// nil.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := Listen(s.cfg)
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Shutdown(context.Background())
		case <-s.doneCh:
		}
	}()
	err = s.Serve(ln)
	if errors.Is(err, ErrServerClosed) || errors.Is(err, ErrRecycled) {
		return nil
	}
	return err
}

// Run is the main function of a FastCGI program: it reads the Config from
// the environment, listens on fd 0 (or FCGI_LISTEN), serves h, and returns
// nil after a graceful stop on SIGTERM or SIGINT or after MaxRequests.
func Run(h http.Handler) error {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return err
	}
	s, err := New(h, cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return s.ListenAndServe(ctx)
}
