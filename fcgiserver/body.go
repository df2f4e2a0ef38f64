package fcgiserver

import (
	"io"
	"net/http"
	"sync"
)

// bodyBufSize bounds the stdin bytes buffered for a handler that has not
// read them yet. When it is full the connection's reader waits: that is the
// backpressure, and it only stalls this connection's one request.
const bodyBufSize = 64 << 10

// body is the request body: a bounded pipe from the connection's reader
// goroutine (write, closeWrite) to the handler (Read, Close).
type body struct {
	mu      sync.Mutex
	cond    sync.Cond
	bufs    *sync.Pool
	buf     []byte // pending bytes are buf[r:]
	r       int
	eof     bool  // stdin ended
	err     error // request ended abnormally
	closed  bool  // handler closed the body
	waiting bool  // writer waits for room
	want    int64 // CONTENT_LENGTH, -1 if unknown
	got     int64
}

func (b *body) init(bufs *sync.Pool, want int64) {
	b.cond.L = &b.mu
	b.bufs = bufs
	b.want = want
}

// Read reads stdin as it arrives.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.r == len(b.buf) && !b.eof && b.err == nil && !b.closed {
		b.cond.Wait()
	}
	switch {
	case b.err != nil:
		return 0, b.err
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.r == len(b.buf):
		if b.want >= 0 && b.got < b.want {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, io.EOF
	}
	n := copy(p, b.buf[b.r:])
	b.r += n
	if b.r == len(b.buf) {
		b.r, b.buf = 0, b.buf[:0]
	}
	if b.waiting {
		b.cond.Broadcast()
	}
	return n, nil
}

// Close discards the rest of the body.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.releaseLocked()
	b.cond.Broadcast()
	return nil
}

// write hands p to the handler, waiting while the buffer is full. It
// discards p once the handler closed the body or the request ended.
func (b *body) write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got += int64(len(p))
	for len(p) > 0 && !b.closed && b.err == nil {
		if b.buf == nil {
			b.buf = (*b.bufs.Get().(*[]byte))[:0]
		}
		if len(b.buf) == cap(b.buf) && b.r > 0 {
			b.buf = b.buf[:copy(b.buf, b.buf[b.r:])]
			b.r = 0
		}
		if len(b.buf) == cap(b.buf) {
			b.waiting = true
			b.cond.Wait()
			b.waiting = false
			continue
		}
		n := copy(b.buf[len(b.buf):cap(b.buf)], p)
		b.buf = b.buf[:len(b.buf)+n]
		p = p[n:]
		b.cond.Broadcast()
	}
}

// closeWrite marks the end of stdin.
func (b *body) closeWrite() {
	b.mu.Lock()
	b.eof = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// fail ends the body with err: reads return it, writes are discarded.
func (b *body) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.releaseLocked()
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *body) releaseLocked() {
	if b.buf != nil {
		buf := b.buf[:0]
		b.bufs.Put(&buf)
		b.buf, b.r = nil, 0
	}
}
