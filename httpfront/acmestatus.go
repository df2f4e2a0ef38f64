//go:build !noacme

package httpfront

import (
	"fmt"
	"time"

	"github.com/caddyserver/certmagic"
)

// renewBackoff mirrors certmagic's retry intervals (its retryIntervals),
// for the estimate only; the last one repeats.
var renewBackoff = []time.Duration{time.Minute, 2 * time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 10 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour}

func (t *autoTLS) status(now time.Time) []CertStatus {
	out := make([]CertStatus, 0, len(t.acme.Domains))
	for _, d := range t.acme.Domains {
		cs := CertStatus{Domain: d}
		t.mu.Lock()
		st := t.stateOf(d)
		cs.LastError, cs.LastErrorAt, cs.Reason = st.lastError, st.lastErrorAt, st.reason
		failures := st.failures
		t.mu.Unlock()
		var next time.Time
		if c, ok := t.certFor(d); ok {
			cs.HaveCert, cs.NotAfter = true, c.Leaf.NotAfter
			cs.Serial = fmt.Sprintf("%x", c.Leaf.SerialNumber)
			next = renewalStart(c, t.magic.RenewalWindowRatio)
		}
		if failures > 0 {
			next = later(next, cs.LastErrorAt.Add(renewBackoff[min(failures, len(renewBackoff))-1]))
		}
		if !next.IsZero() {
			cs.NextRenewal = later(next, now).Truncate(t.check).Add(t.check)
		}
		out = append(out, cs)
	}
	return out
}

// renewalStart is when certmagic's ratio puts c in its renewal window.
func renewalStart(c certmagic.Certificate, ratio float64) time.Time {
	if ratio <= 0 {
		ratio = certmagic.DefaultRenewalWindowRatio
	}
	life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
	return c.Leaf.NotAfter.Add(-time.Duration(float64(life) * ratio))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
