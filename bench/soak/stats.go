package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// kind is an attacker kind.
type kind int

const (
	kSlowHead kind = iota
	kLongHead
	kPipeline
	kAborted
	kBadChunk
	kRange
	kSmuggle
	kUpload
	kFlood
	numKinds
)

var kindNames = [numKinds]string{"slow-head", "long-head", "pipeline", "aborted-upload",
	"bad-chunking", "range", "smuggle", "upload", "flood"}

func (k kind) String() string { return kindNames[k] }

// kindStats counts one kind's traffic.
type kindStats struct {
	attacks   atomic.Int64 // attacks started (a flood burst is one)
	conns     atomic.Int64 // connections opened
	requests  atomic.Int64 // requests sent
	ok        atomic.Int64 // answers checked and right
	rejected  atomic.Int64 // 4xx
	serverErr atomic.Int64 // 5xx
	closed    atomic.Int64 // connections ended without an answer (close, reset, timeout)
	dialErr   atomic.Int64 // connections that could not be opened
	wrong     atomic.Int64 // wrong status or bytes
	desync    atomic.Int64 // answers to requests hidden in framing
}

// maxSamples bounds the wrong answers kept per kind, with the bytes that
// caused them.
const maxSamples = 3

// stats are the soak's counters: per kind, and samples of what went wrong.
type stats struct {
	kinds   [numKinds]kindStats
	mu      sync.Mutex
	samples []string
	sampled [numKinds]int
}

// record counts out for kind k; for a wrong answer it keeps err and the
// bytes sent as a reproduction.
func (st *stats) record(k kind, out outcome, err error, sent []byte) {
	ks := &st.kinds[k]
	switch out {
	case outOK:
		ks.ok.Add(1)
	case outRejected:
		ks.rejected.Add(1)
	case outServerErr:
		ks.serverErr.Add(1)
	case outWrong:
		ks.wrong.Add(1)
		st.sample(k, err, sent)
	case outDesync:
		ks.desync.Add(1)
		st.sample(k, err, sent)
	}
}

func (st *stats) sample(k kind, err error, sent []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sampled[k] >= maxSamples {
		return
	}
	st.sampled[k]++
	st.samples = append(st.samples, fmt.Sprintf("%s: %v\n    sent %d bytes: %s", k, err, len(sent), quoteSent(sent)))
}

// quoteSent quotes the bytes sent, runs of one byte shortened so a 16 KiB
// head stays readable.
func quoteSent(b []byte) string {
	var sb strings.Builder
	lit := 0 // start of the bytes not yet written
	flush := func(end int) {
		switch {
		case end-lit > 1000:
			fmt.Fprintf(&sb, "%q...(%d bytes) ", b[lit:lit+1000], end-lit)
		case end > lit:
			fmt.Fprintf(&sb, "%q ", b[lit:end])
		}
	}
	for i := 0; i < len(b) && sb.Len() < 2000; {
		j := i
		for j < len(b) && b[j] == b[i] {
			j++
		}
		if j-i > 8 {
			flush(i)
			fmt.Fprintf(&sb, "%q x %d ", b[i:i+1], j-i)
			lit = j
		}
		i = j
	}
	if sb.Len() >= 2000 {
		return sb.String() + "..."
	}
	flush(len(b))
	return sb.String()
}

// totals sums the wrong answers and desyncs of every kind.
func (st *stats) totals() (wrong, desync int64) {
	for i := range st.kinds {
		wrong += st.kinds[i].wrong.Load()
		desync += st.kinds[i].desync.Load()
	}
	return wrong, desync
}
