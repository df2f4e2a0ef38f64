package initsvc

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLineBytes is how much of one output line init keeps: the rest of a
// longer line is read and discarded, and the line is marked with how many
// bytes were cut. A service's output pipe is never closed while the
// service lives, so no line length can make its writes fail.
const maxLineBytes = 4096

// readChunk is the reader's buffer: the most init holds of a service's
// output besides the current line.
const readChunk = 16 << 10

// splitter cuts a byte stream into lines of at most max bytes.
type splitter struct {
	max  int
	line []byte // the current line's first bytes, at most max
	cut  int64  // bytes of the current line beyond max, discarded
}

func newSplitter(max int) *splitter {
	return &splitter{max: max, line: make([]byte, 0, max)}
}

// feed takes the next bytes of the stream and calls emit for each line
// they complete.
func (s *splitter) feed(p []byte, emit func(string)) {
	for len(p) > 0 {
		i := indexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i]
		}
		room := s.max - len(s.line)
		if len(part) <= room {
			s.line = append(s.line, part...)
		} else {
			s.line = append(s.line, part[:room]...)
			s.cut += int64(len(part) - room)
		}
		if i < 0 {
			return
		}
		s.emit(emit)
		p = p[i+1:]
	}
}

// flush emits an unfinished last line (a stream that ended without a
// newline).
func (s *splitter) flush(emit func(string)) {
	if len(s.line) > 0 || s.cut > 0 {
		s.emit(emit)
	}
}

func (s *splitter) emit(emit func(string)) {
	line := cleanLine(s.line)
	if s.cut > 0 {
		line += fmt.Sprintf(" … [cut %d bytes]", s.cut)
	}
	s.line, s.cut = s.line[:0], 0
	emit(line)
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

// cleanLine returns b as text that is safe on a terminal and in JSON: a
// trailing CR goes, control bytes (but tab) and bytes that are not UTF-8
// become '?', so the result is never longer than b.
func cleanLine(b []byte) string {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			out = append(out, '?')
		case r < 0x20 && r != '\t', r == 0x7f, r >= 0x80 && r < 0xa0:
			out = append(out, '?')
		default:
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return string(out)
}

// readLines reads r until EOF or a read error, calling emit for every
// line. It never stops early: a line longer than max is cut, not a reason
// to give up on the stream.
func readLines(r io.Reader, max int, emit func(string)) error {
	s := newSplitter(max)
	buf := make([]byte, readChunk)
	for {
		n, err := r.Read(buf)
		s.feed(buf[:n], emit)
		if err != nil {
			s.flush(emit)
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading service output: %w", err)
		}
	}
}

// outQueue carries service output lines to the console. A serial console
// writes ~11 KB/s; writing there directly would make a chatty service wait
// for it (its pipe fills, its writes block, and the front end's requests
// wait on its access log). Instead, lines wait here up to max bytes;
// beyond that, new lines are dropped and counted, and the console gets a
// note saying how many before the next line it prints. Services never
// wait for the console.
type outQueue struct {
	mu      sync.Mutex
	w       io.Writer
	max     int
	lines   []string
	bytes   int
	dropped int
	closed  bool
	wake    chan struct{} // one pending wake-up for the writer
	done    chan struct{} // closed when the writer returned
}

// consoleQueueBytes bounds the output waiting for the console.
const consoleQueueBytes = 64 << 10

func newOutQueue(w io.Writer, max int) *outQueue {
	q := &outQueue{w: w, max: max, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

// put queues one line (without its newline); it never blocks on the
// console.
func (q *outQueue) put(line string) {
	q.mu.Lock()
	n := len(line) + 1
	if q.closed || q.bytes+n > q.max {
		q.dropped++
		q.mu.Unlock()
		return
	}
	q.lines = append(q.lines, line)
	q.bytes += n
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pending returns the bytes waiting and the lines dropped so far.
func (q *outQueue) pending() (bytes, dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes, q.dropped
}

// close stops taking lines and waits up to d for the writer to write
// what was queued; it reports whether the writer finished.
func (q *outQueue) close(d time.Duration) bool {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	select {
	case <-q.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (q *outQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		lines, dropped, closed := q.lines, q.dropped, q.closed
		q.lines, q.dropped = nil, 0
		q.mu.Unlock()
		if len(lines) == 0 && dropped == 0 {
			if closed {
				return
			}
			<-q.wake
			continue
		}
		var b []byte
		if dropped > 0 {
			b = fmt.Appendf(b, "init: console: %d output lines dropped (console too slow)\n", dropped)
		}
		taken := 0
		for _, l := range lines {
			b = append(append(b, l...), '\n')
			taken += len(l) + 1
		}
		// The taken lines count against the bound until written, so
		// what init holds for the console stays under twice max.
		_, _ = q.w.Write(b)
		q.mu.Lock()
		q.bytes -= taken
		q.mu.Unlock()
	}
}
