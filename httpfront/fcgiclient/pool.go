// Package fcgiclient is the front end's FastCGI client: a pool of
// backends with least-outstanding-requests balancing and passive health
// checks, built on the record layer shared with fcgiserver.
package fcgiclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options tune a Pool. Zero values take the defaults.
type Options struct {
	ConnectTimeout time.Duration // default 2 s
	DownTime       time.Duration // default 1 s
	KeepConn       bool          // reuse connections (FCGI_KEEP_CONN)
	AutoKeepConn   bool          // reuse them where the backend can take it (keep.go)
	MaxIdle        int           // idle connections kept per backend, default DefaultMaxIdle
	// MaxHeaderBytes bounds an app's CGI header block; default
	// DefaultMaxHeaderBytes. More is a broken backend (502).
	MaxHeaderBytes int
}

// DefaultMaxIdle bounds the idle connections kept to one backend (with
// AutoKeepConn also the backend's FCGI_MAX_CONNS does). 16 made a fifth
// of the requests of 64 clients that connect per request, spread over two
// backends, dial and close a backend connection: the clients come in
// waves, and a wave's releases overflowed the idle list that the next
// wave then dialled again (bench/front.sh; 32 took that to none, 64 covers
// 64 clients on one backend).
const DefaultMaxIdle = 64

// ErrNoBackend means no backend of the pool accepted a connection; the
// request was not sent.
var ErrNoBackend = errors.New("no FastCGI backend accepted a connection")

// Backend is one FastCGI server.
type Backend struct {
	Name        string // as configured, for logs
	network     string
	addr        string
	outstanding atomic.Int64
	downUntil   atomic.Int64 // unix nanos
	open        atomic.Int64 // connections open, busy or idle
	probe       atomic.Int32 // FCGI_GET_VALUES state (keep.go)
	maxConns    atomic.Int64 // connections the backend serves at once; 0 unknown
	probeAgain  atomic.Int64 // unix nanos when to ask again; 0 never
	silent      atomic.Int32 // probes that got no answer in time

	mu   sync.Mutex
	idle []*Conn
}

// Pool is the set of backends of one app.
type Pool struct {
	backends   []*Backend
	opt        Options
	probeRetry time.Duration // probeRetry but in tests
	next       atomic.Uint32
	closed     atomic.Bool
	bufs       sync.Pool // *connBufs
}

// ParseAddr splits "unix:/path", "tcp:host:port" or "/path" into a network
// and an address for net.Dial.
func ParseAddr(s string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		network, addr = "unix", s[len("unix:"):]
	case strings.HasPrefix(s, "tcp:"):
		network, addr = "tcp", s[len("tcp:"):]
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", "", fmt.Errorf("backend %q: %w", s, err)
		}
	case strings.HasPrefix(s, "/"):
		network, addr = "unix", s
	default:
		return "", "", fmt.Errorf("backend %q: want unix:/path, tcp:host:port or /path", s)
	}
	if addr == "" {
		return "", "", fmt.Errorf("backend %q: empty address", s)
	}
	return network, addr, nil
}

// NewPool returns a pool over the given backend addresses.
func NewPool(addrs []string, opt Options) (*Pool, error) {
	if len(addrs) == 0 {
		return nil, errors.New("fastcgi pool: no backends")
	}
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 2 * time.Second
	}
	if opt.DownTime <= 0 {
		opt.DownTime = time.Second
	}
	if opt.MaxIdle <= 0 {
		opt.MaxIdle = DefaultMaxIdle
	}
	if opt.MaxHeaderBytes <= 0 {
		opt.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	p := &Pool{opt: opt, probeRetry: probeRetry}
	for _, a := range addrs {
		network, addr, err := ParseAddr(a)
		if err != nil {
			return nil, err
		}
		p.backends = append(p.backends, &Backend{Name: a, network: network, addr: addr})
	}
	return p, nil
}

// Backends returns the pool's members.
func (p *Pool) Backends() []*Backend { return p.backends }

// Outstanding returns the requests in flight on b.
func (b *Backend) Outstanding() int64 { return b.outstanding.Load() }

// MaxConns returns how many connections b said it serves at once (0: it
// was not asked, did not say, or cannot be reused) and whether it was
// asked yet.
func (b *Backend) MaxConns() (int64, bool) {
	return b.maxConns.Load(), b.probe.Load() == probeDone
}

// Close closes idle connections; connections in use close when released.
func (p *Pool) Close() {
	p.closed.Store(true)
	for _, b := range p.backends {
		b.mu.Lock()
		for _, c := range b.idle {
			p.close(c)
		}
		b.idle = nil
		b.mu.Unlock()
	}
}

// pick returns the healthy backend with the fewest outstanding requests
// that is not in tried, rotating the start to spread ties. When every
// untried backend is down it returns the one that comes back first.
func (p *Pool) pick(tried []bool, now int64) *Backend {
	n := len(p.backends)
	start := int(p.next.Add(1)) % n
	var best, fallback *Backend
	for k := 0; k < n; k++ {
		i := (start + k) % n
		if tried[i] {
			continue
		}
		b := p.backends[i]
		if b.downUntil.Load() > now {
			if fallback == nil || b.downUntil.Load() < fallback.downUntil.Load() {
				fallback = b
			}
			continue
		}
		if best == nil || b.outstanding.Load() < best.outstanding.Load() {
			best = b
		}
	}
	if best == nil {
		return fallback
	}
	return best
}

func (p *Pool) index(b *Backend) int {
	for i, x := range p.backends {
		if x == b {
			return i
		}
	}
	return -1
}

// acquire returns a connection to the best backend, trying each member at
// most once; a member that refuses or times out is marked down.
func (p *Pool) acquire(ctx context.Context, tried []bool, fresh bool) (*Conn, error) {
	var errs []error
	for {
		b := p.pick(tried, time.Now().UnixNano())
		if b == nil {
			return nil, fmt.Errorf("%w: %w", ErrNoBackend, errors.Join(errs...))
		}
		tried[p.index(b)] = true
		b.outstanding.Add(1)
		c, err := p.connect(ctx, b, fresh)
		if err == nil {
			return c, nil
		}
		b.outstanding.Add(-1)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connecting to %s: %w", b.Name, ctx.Err())
		}
		if !errors.Is(err, syscall.EAGAIN) { // EAGAIN: a full unix backlog, busy not dead
			b.downUntil.Store(time.Now().Add(p.opt.DownTime).UnixNano())
		}
		errs = append(errs, err)
	}
}

// connect reuses an idle connection unless fresh is set (a request with a
// body, which could not be replayed if the idle connection turned out
// stale), else dials.
func (p *Pool) connect(ctx context.Context, b *Backend, fresh bool) (*Conn, error) {
	keep := p.keepFor(b)
	for keep && !fresh {
		c := b.popIdle()
		if c == nil {
			break
		}
		if c.quiet() {
			return c, nil
		}
		p.close(c) // closed by the backend, or stray bytes arrived while idle
	}
	nc, err := p.dial(ctx, b)
	if err != nil {
		return nil, err
	}
	c := p.newConn(nc, b)
	c.keep = keep
	return c, nil
}

func (b *Backend) popIdle() *Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.idle); n > 0 {
		c := b.idle[n-1]
		b.idle = b.idle[:n-1]
		c.reused = true
		return c
	}
	return nil
}

// release gives c back: kept idle when reusable, else closed.
func (p *Pool) release(c *Conn, reusable bool) {
	c.b.outstanding.Add(-1)
	if !reusable || !p.mayIdle(c) || !c.quiet() {
		p.close(c)
		return
	}
	b := c.b
	b.mu.Lock()
	if len(b.idle) < p.opt.MaxIdle {
		b.idle = append(b.idle, c)
		c = nil
	}
	b.mu.Unlock()
	if c != nil {
		p.close(c)
	}
}
