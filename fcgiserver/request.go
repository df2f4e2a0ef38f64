package fcgiserver

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// Causes of a request's context cancellation (see context.Cause).
var (
	ErrAborted        = errors.New("fcgiserver: request aborted by the web server (FCGI_ABORT_REQUEST)")
	ErrConnClosed     = errors.New("fcgiserver: web server connection closed")
	ErrRequestTimeout = errors.New("fcgiserver: request timeout")
	ErrShutdown       = errors.New("fcgiserver: server shut down before the request finished")
	// ErrFinished is returned by writes after the request has ended.
	ErrFinished = errors.New("fcgiserver: request already ended")
)

// phase of a request as seen by its connection's reader.
type phase uint8

const (
	phaseParams phase = iota // reading PARAMS
	phaseStdin               // handler dispatched, reading STDIN
	phaseDone                // STDIN ended
)

// request is one FastCGI request. Fields are owned as commented.
type request struct {
	c        *conn
	id       uint16
	keepConn bool
	phase    phase // reader goroutine only

	params []record.Pair // substrings of one string; read-only after dispatch
	hr     *http.Request
	body   body
	rctx   reqContext
	cancel context.CancelCauseFunc
	timer  *time.Timer // request timeout, nil if none

	// finished is set once, under c.wmu, when END_REQUEST is written (or
	// the connection is known dead); nothing is written for the request
	// after it.
	finished    atomic.Bool
	headersSent bool // under c.wmu
	stderrUsed  bool // under c.wmu

	// Under c.mu: the connection may close once both are true.
	endSent, stdinDone bool
}

// reqContext is the request's context; it carries the request so that
// Param and Stderr can find it without another allocation.
type reqContext struct {
	context.Context
	req      *request
	deadline time.Time
}

type ctxKey struct{}

// Deadline reports the request timeout. The context is cancelled by the
// timer that also answers the web server, so that a handler never sees its
// context done before the request has ended.
func (c *reqContext) Deadline() (time.Time, bool) {
	if !c.deadline.IsZero() {
		return c.deadline, true
	}
	return c.Context.Deadline()
}

func (c *reqContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c.req
	}
	return c.Context.Value(key)
}

func requestOf(r *http.Request) *request {
	req, _ := r.Context().Value(ctxKey{}).(*request)
	return req
}

// newRequest starts a request on BEGIN_REQUEST: its context and timeout.
func newRequest(c *conn, id uint16, keepConn bool) *request {
	req := &request{c: c, id: id, keepConn: keepConn}
	ctx, cancel := context.WithCancelCause(context.Background())
	req.cancel = cancel
	req.rctx = reqContext{Context: ctx, req: req}
	if t := c.srv.cfg.RequestTimeout; t > 0 {
		req.rctx.deadline = time.Now().Add(t)
		req.timer = time.AfterFunc(t, func() { req.abandon(ErrRequestTimeout) })
	}
	return req
}

// abandon ends a request before its handler did (abort, lost connection,
// timeout, shutdown): the body fails, END_REQUEST goes out (after a 503 if
// nothing was sent and the web server is still listening), and only then is
// the handler's context cancelled, so the handler's later writes all fail.
func (req *request) abandon(cause error) {
	req.body.fail(cause)
	var reply []byte
	if cause == ErrRequestTimeout || cause == ErrShutdown {
		reply = []byte("Status: 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Retry-After: 1\r\n\r\n" + cause.Error() + "\n")
	}
	ended := req.end(reply, 1, record.StatusRequestComplete)
	req.cancel(cause)
	if ended {
		req.c.srv.stats.cancelled.Add(1)
	}
}

// end writes reply (if no headers were sent yet) and END_REQUEST, unless the
// request already ended. It reports whether this call ended it.
func (req *request) end(reply []byte, appStatus uint32, ps record.ProtocolStatus) bool {
	c := req.c
	c.wmu.Lock()
	if req.finished.Load() {
		c.wmu.Unlock()
		return false
	}
	req.finished.Store(true)
	if !c.dead.Load() {
		out := c.wbuf[:0]
		if reply != nil && !req.headersSent {
			out = record.AppendStream(out, record.TypeStdout, req.id, reply)
			out = record.AppendRecord(out, record.TypeStdout, req.id, nil)
		}
		out = req.appendEnd(out, appStatus, ps)
		c.write(out)
		c.wbuf = out
	}
	c.wmu.Unlock()
	req.ended()
	return true
}

// ended runs once after END_REQUEST: it accounts for the request and
// closes the connection if nothing more is expected on it.
func (req *request) ended() {
	c := req.c
	c.mu.Lock()
	req.endSent = true
	closeNow, linger := false, false
	if !req.keepConn || c.srv.stopping.Load() {
		closeNow = req.stdinDone
		linger = !req.stdinDone
	}
	c.mu.Unlock()
	c.srv.inflight.Done()
	switch {
	case closeNow:
		c.close()
	case linger:
		c.linger()
	}
}

// release frees the timer and context after the handler returned.
func (req *request) release() {
	if req.timer != nil {
		req.timer.Stop()
	}
	req.cancel(context.Canceled)
}

// appendEnd closes STDERR if it was used and appends END_REQUEST; the
// caller holds c.wmu.
func (req *request) appendEnd(out []byte, appStatus uint32, ps record.ProtocolStatus) []byte {
	if req.stderrUsed {
		out = record.AppendRecord(out, record.TypeStderr, req.id, nil)
	}
	return record.AppendEndRequest(out, req.id, appStatus, ps)
}
