package fcgiclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// Connection reuse. With KeepConn every connection is reused. With
// AutoKeepConn a backend's connections are reused only once it has said,
// in answer to FCGI_GET_VALUES, that it serves more than one connection
// at a time (FCGI_MAX_CONNS > 1, or FCGI_MPXS_CONNS = 1 without a
// maximum), and never beyond that: an idle connection is kept only while
// all the connections open to the backend, busy and idle, are at most
// FCGI_MAX_CONNS. A one-connection-at-a-time app (php-cgi says
// FCGI_MAX_CONNS 1) so never waits on an idle connection the front end
// holds while a new one queues in its backlog; an app that does not
// answer is not reused either.
//
// The question goes on a connection of its own (php-cgi closes a
// connection after answering it), in the background, when the backend is
// first used; requests meanwhile get a connection each.

// Probe states of a Backend.
const (
	probeNone    int32 = iota // not asked yet
	probeRunning              // asking
	probeDone                 // maxConns is the answer (0: do not reuse)
)

// probeTimeout bounds the wait for GET_VALUES_RESULT.
const probeTimeout = time.Second

// probeRetry is when a backend that could not be reached is asked again.
const probeRetry = 10 * time.Second

// Reuse reports, without asking b anything, whether its connections are
// reused now, and what it answered to FCGI_GET_VALUES: asked once the
// question was answered or given up on, maxConns as counted (0: not said).
func (p *Pool) Reuse(b *Backend) (reused bool, maxConns int64, asked bool) {
	maxConns, asked = b.MaxConns()
	switch {
	case p.opt.KeepConn:
		return true, maxConns, asked
	case !p.opt.AutoKeepConn:
		return false, maxConns, asked
	}
	return asked && maxConns > 1, maxConns, asked
}

// keepFor reports whether connections to b are to be reused.
func (p *Pool) keepFor(b *Backend) bool {
	switch {
	case p.opt.KeepConn:
		return true
	case !p.opt.AutoKeepConn:
		return false
	}
	switch b.probe.Load() {
	case probeDone:
		if b.maxConns.Load() > 1 {
			return true
		}
		if at := b.probeAgain.Load(); at == 0 || time.Now().UnixNano() < at {
			return false
		}
		if !b.probe.CompareAndSwap(probeDone, probeRunning) {
			return false
		}
	case probeNone:
		if !b.probe.CompareAndSwap(probeNone, probeRunning) {
			return false
		}
	default:
		return false
	}
	go p.ask(b)
	return false
}

// mayIdle reports whether c may be kept idle: reuse is on for it and the
// connections open to its backend stay within what the backend serves.
func (p *Pool) mayIdle(c *Conn) bool {
	if !c.keep || p.closed.Load() {
		return false
	}
	if p.opt.KeepConn {
		return true
	}
	return c.b.open.Load() <= c.b.maxConns.Load()
}

// silentTries is how many times a backend that takes the question but
// does not answer it within probeTimeout is asked: an app still starting
// (init has bound its socket, so the question waits in the backlog) is
// asked again, one that never answers is not asked for ever.
const silentTries = 3

// errSilent: the backend took the question and did not answer in time.
var errSilent = errors.New("no FCGI_GET_VALUES_RESULT in time")

// ask sends FCGI_GET_VALUES to b and records the answer. A backend that
// could not be reached, or was silent fewer than silentTries times, is
// asked again after probeRetry.
func (p *Pool) ask(b *Backend) {
	n, err := p.getValues(b)
	b.maxConns.Store(n)
	again := err != nil && (!errors.Is(err, errSilent) || b.silent.Add(1) < silentTries)
	if again {
		b.probeAgain.Store(time.Now().Add(p.probeRetry).UnixNano())
	} else {
		b.probeAgain.Store(0)
	}
	b.probe.Store(probeDone)
}

// getValues returns how many connections b serves at once: 0 when it does
// not say; err when it could not be asked, errSilent when it did not
// answer in time (nil when it closed the connection without answering).
func (p *Pool) getValues(b *Backend) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opt.ConnectTimeout)
	defer cancel()
	nc, err := p.dial(ctx, b)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	w := record.NewWriter(nc)
	_ = w.WriteGetValues(record.ValueMaxConns, record.ValueMaxReqs, record.ValueMpxsConns)
	_ = nc.SetDeadline(time.Now().Add(probeTimeout))
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("asking %s for its values: %w", b.Name, err)
	}
	r := record.NewReader(nc)
	for {
		rec, err := r.Next()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, errSilent
		}
		if err != nil {
			return 0, nil // no answer: treat as one connection at a time
		}
		if rec.Type == record.TypeGetValuesResult {
			return maxConnsOf(rec.Content, int64(p.opt.MaxIdle)), nil
		}
	}
}

// maxConnsOf reads FCGI_MAX_CONNS (or a multiplexing app's FCGI_MPXS_CONNS
// = 1, counted as many) from a GET_VALUES_RESULT.
func maxConnsOf(content []byte, many int64) int64 {
	var maxConns int64
	mpxs := false
	for rest := content; len(rest) > 0; {
		name, value, r, err := record.NextPair(rest)
		if err != nil {
			break
		}
		rest = r
		switch string(name) {
		case record.ValueMaxConns:
			if v, err := strconv.ParseInt(string(value), 10, 64); err == nil && v > 0 {
				maxConns = v
			}
		case record.ValueMpxsConns:
			mpxs = string(value) == "1"
		}
	}
	if maxConns == 0 && mpxs {
		maxConns = many
	}
	return maxConns
}
