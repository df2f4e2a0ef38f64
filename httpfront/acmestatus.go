package httpfront

import (
	"fmt"
	"time"

	"github.com/caddyserver/certmagic"
)

// CertStatus is one ACME domain's state, for the status page.
type CertStatus struct {
	Domain string `json:"domain"`
	// HaveCert: a valid certificate is being served for Domain.
	HaveCert bool      `json:"have_cert"`
	NotAfter time.Time `json:"not_after,omitzero"`
	Serial   string    `json:"serial,omitempty"`
	// LastError is the CA's (or the network's) last refusal, in its own
	// words, since the last success; LastErrorAt when it came.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// NextRenewal estimates the next attempt to obtain or renew: the
	// start of the renewal window (ARI may move it earlier), after a
	// failure certmagic's back-off (1, 2, 2, 5, 10 min, ...), rounded up
	// to its next maintenance check. Zero: nothing planned (no
	// certificate and no failure yet: the first attempt is under way).
	NextRenewal time.Time `json:"next_renewal,omitzero"`
}

// renewBackoff mirrors certmagic's retry intervals (its retryIntervals),
// for the estimate only; the last one repeats.
var renewBackoff = []time.Duration{time.Minute, 2 * time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 10 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour}

// ACMEStatus reports the state of every ACME domain (nil without
// spec.Front.ACME).
func (s *Server) ACMEStatus() []CertStatus {
	if s.auto == nil {
		return nil
	}
	return s.auto.status(time.Now())
}

func (t *autoTLS) status(now time.Time) []CertStatus {
	out := make([]CertStatus, 0, len(t.acme.Domains))
	for _, d := range t.acme.Domains {
		cs := CertStatus{Domain: d}
		t.mu.Lock()
		st := t.stateOf(d)
		cs.LastError, cs.LastErrorAt = st.lastError, st.lastErrorAt
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
