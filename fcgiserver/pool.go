package fcgiserver

import "sync"

// pool is the worker pool: MaxThreads request slots and between MinSpare
// and MaxSpare idle worker goroutines waiting for work. A worker owns its
// response buffers, so an idle worker costs its stack plus those buffers.
type pool struct {
	srv                            *Server
	maxThreads, minSpare, maxSpare int
	jobs                           chan *request
	quit                           chan struct{}

	mu      sync.Mutex
	busy    int // slots held: requests whose handler has not returned
	idle    int // workers waiting on jobs
	workers int // live workers, busy or idle
	closed  bool
}

func newPool(srv *Server, cfg Config) *pool {
	return &pool{
		srv:        srv,
		maxThreads: cfg.MaxThreads,
		minSpare:   cfg.MinSpare,
		maxSpare:   cfg.MaxSpare,
		jobs:       make(chan *request),
		quit:       make(chan struct{}),
	}
}

// start pre-starts MinSpare idle workers.
func (p *pool) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.idle < p.minSpare && p.workers < p.maxThreads {
		p.spawnSpareLocked()
	}
}

func (p *pool) spawnSpareLocked() {
	p.workers++
	p.idle++
	go p.loop(nil)
}

// acquire takes a request slot; false means the pool is full (overloaded).
func (p *pool) acquire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy >= p.maxThreads || p.closed {
		return false
	}
	p.busy++
	return true
}

// release gives back a slot taken by acquire whose request never ran.
func (p *pool) release() {
	p.mu.Lock()
	p.busy--
	p.mu.Unlock()
}

// run hands req (holding a slot) to an idle worker, or starts a worker.
func (p *pool) run(req *request) {
	select {
	case p.jobs <- req:
	default:
		p.mu.Lock()
		p.workers++
		p.mu.Unlock()
		go p.loop(req)
	}
}

// loop is a worker: serve the request it was given, then wait as a spare
// unless there are MaxSpare spares already.
func (p *pool) loop(req *request) {
	w := newWorker(p.srv)
	for {
		if req != nil {
			w.serve(req)
			if !p.park() {
				return
			}
		}
		select {
		case req = <-p.jobs:
			p.unpark()
		case <-p.quit:
			p.mu.Lock()
			p.idle--
			p.workers--
			p.mu.Unlock()
			return
		}
	}
}

// park releases the slot of a finished request and decides whether the
// worker stays as a spare.
func (p *pool) park() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy--
	if p.idle >= p.maxSpare || p.closed {
		p.workers--
		return false
	}
	p.idle++
	return true
}

// unpark records that a spare took a job and keeps MinSpare spares.
func (p *pool) unpark() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle--
	if p.idle < p.minSpare && p.workers < p.maxThreads && !p.closed {
		p.spawnSpareLocked()
	}
}

// close makes idle workers exit and busy ones exit when done.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.quit)
	}
}

// PoolStats is a snapshot of the worker pool.
type PoolStats struct {
	Busy    int // requests being handled
	Idle    int // spare workers waiting
	Workers int // live worker goroutines
}

func (p *pool) stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Busy: p.busy, Idle: p.idle, Workers: p.workers}
}
