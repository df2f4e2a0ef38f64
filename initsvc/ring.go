package initsvc

import "sync"

// ring keeps a service's last lines, to show them when it crashes and on
// the status page, bounded both in lines and in bytes: a line longer than
// the byte bound is cut to it, and the oldest lines go first.
type ring struct {
	mu       sync.Mutex
	lines    []string
	bytes    int
	maxLines int
	maxBytes int
}

func newRing(maxLines, maxBytes int) *ring {
	return &ring{maxLines: maxLines, maxBytes: maxBytes}
}

func (r *ring) add(line string) {
	if len(line) > r.maxBytes {
		line = line[:r.maxBytes]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	r.bytes += len(line)
	drop := 0
	for len(r.lines)-drop > r.maxLines || r.bytes > r.maxBytes {
		r.bytes -= len(r.lines[drop])
		drop++
	}
	if drop > 0 {
		// Shift instead of reslicing, so the backing array does not
		// grow without end.
		n := copy(r.lines, r.lines[drop:])
		clear(r.lines[n:])
		r.lines = r.lines[:n]
	}
}

// last returns the kept lines, oldest first.
func (r *ring) last() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// take returns the kept lines, oldest first, and empties the ring.
func (r *ring) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lines
	r.lines, r.bytes = nil, 0
	return l
}

// size returns the bytes of the kept lines.
func (r *ring) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}
