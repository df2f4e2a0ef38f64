package httpfront

import "time"

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
	// Reason says what LastError means for the user (DNS not pointing
	// here, the CA unreachable, rate limited, ...), "" when unknown.
	Reason string `json:"reason,omitempty"`
	// NextRenewal estimates the next attempt to obtain or renew: the
	// start of the renewal window (ARI may move it earlier), after a
	// failure certmagic's back-off (1, 2, 2, 5, 10 min, ...), rounded up
	// to its next maintenance check. Zero: nothing planned (no
	// certificate and no failure yet: the first attempt is under way).
	NextRenewal time.Time `json:"next_renewal,omitzero"`
}

// ACMEStatus reports the state of every ACME domain (nil without
// spec.Front.ACME).
func (s *Server) ACMEStatus() []CertStatus {
	if s.auto == nil {
		return nil
	}
	return s.auto.status(time.Now())
}
