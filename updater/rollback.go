package updater

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// Challenges: how many may be outstanding (the oldest goes first) and how
// long one stays good.
const (
	maxChallenges = 8
	challengeTTL  = 2 * time.Minute
)

// Rollback boots the version the other slot holds, as a trial, for whoever
// signs a fresh challenge with a trusted update key: a rollback needs the
// same key as an update, and a recorded request cannot be replayed.
type Rollback struct {
	Keys           []ed25519.PublicKey
	Board, Version string // the running system
	SlotName       string // the other slot
	// Previous is the version the other slot holds whole ("" when none).
	Previous func() string
	// Arm makes the next boot a trial of the other slot, running version.
	Arm func(version string) error

	mu     sync.Mutex
	issued map[string]time.Time // nonce -> when
}

var errNoPrevious = errors.New("the other slot holds no version to go back to: this system was not installed by an update, or the slot was written or failed its trial since")

// challenge makes a nonce.
func (rb *Rollback) challenge(now time.Time) (spec.RollbackChallenge, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return spec.RollbackChallenge{}, err
	}
	nonce := hex.EncodeToString(b)
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.issued == nil {
		rb.issued = map[string]time.Time{}
	}
	for len(rb.issued) >= maxChallenges {
		oldest := ""
		for n, at := range rb.issued {
			if oldest == "" || at.Before(rb.issued[oldest]) {
				oldest = n
			}
		}
		delete(rb.issued, oldest)
	}
	rb.issued[nonce] = now
	return spec.RollbackChallenge{Nonce: nonce, Board: rb.Board, Version: rb.Version, Previous: rb.Previous()}, nil
}

// take spends a nonce: true if it was issued and is still good.
func (rb *Rollback) take(nonce string, now time.Time) bool {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	at, ok := rb.issued[nonce]
	delete(rb.issued, nonce)
	return ok && now.Sub(at) < challengeTTL
}

// check verifies a request and returns the version to go back to.
func (rb *Rollback) check(req spec.RollbackRequest, now time.Time) (string, int, error) {
	if !rb.take(req.Nonce, now) {
		return "", http.StatusForbidden, errors.New("unknown or expired challenge: ask for a new one")
	}
	prev := rb.Previous()
	if prev == "" {
		return "", http.StatusConflict, errNoPrevious
	}
	sig, err := base64.StdEncoding.DecodeString(req.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", http.StatusBadRequest, errors.New("the signature is not a base64 ed25519 signature")
	}
	msg := spec.RollbackMessage(spec.RollbackChallenge{Nonce: req.Nonce, Board: rb.Board, Version: rb.Version, Previous: prev})
	for _, k := range rb.Keys {
		if ed25519.Verify(k, msg, sig) {
			return prev, http.StatusOK, nil
		}
	}
	return "", http.StatusForbidden, errors.New("the rollback is not signed by a key this appliance trusts")
}

// serveRollback answers GET (a challenge) and POST (a signed request) on
// spec.RollbackPath; the caller holds the busy lock for a POST.
func (s *Server) serveRollback(w http.ResponseWriter, r *http.Request) (armed string, ok bool) {
	rb := s.Rollback
	if rb == nil {
		http.Error(w, "rollbacks are not served here", http.StatusNotFound)
		return "", false
	}
	if r.Method == http.MethodGet {
		c, err := rb.challenge(time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return "", false
		}
		writeJSON(w, http.StatusOK, c)
		return "", false
	}
	var req spec.RollbackRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "reading the rollback request: "+err.Error(), http.StatusBadRequest)
		return "", false
	}
	prev, code, err := rb.check(req, time.Now())
	if err == nil {
		if err = rb.Arm(prev); err != nil {
			code, err = http.StatusInternalServerError, fmt.Errorf("arming the trial boot of slot %s: %w", rb.SlotName, err)
		}
	}
	if err != nil {
		http.Error(w, err.Error(), code)
		return "", false
	}
	writeJSON(w, http.StatusOK, spec.UpdateResult{Version: prev, Slot: rb.SlotName,
		Message: fmt.Sprintf("going back to version %s in slot %s; rebooting into it for a trial", prev, rb.SlotName)})
	return prev, true
}
