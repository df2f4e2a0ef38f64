package updateclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mkimage/mkimage/spec"
)

// Rollback asks the agent at base to boot the version its other slot
// holds: it fetches a challenge, signs it with key and sends it back. The
// answer names the version the appliance reboots into for a trial.
func Rollback(ctx context.Context, base string, key ed25519.PrivateKey) (spec.UpdateResult, error) {
	var c spec.RollbackChallenge
	var res spec.UpdateResult
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+spec.RollbackPath, nil)
	if err != nil {
		return res, err
	}
	if err := do(req, &c); err != nil {
		return res, fmt.Errorf("asking %s for a rollback challenge: %w", base, err)
	}
	if c.Previous == "" {
		return res, fmt.Errorf("%s runs version %s and has no earlier version to go back to: %w", base, c.Version, ErrNoPrevious)
	}
	body, err := json.Marshal(spec.RollbackRequest{Nonce: c.Nonce,
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, spec.RollbackMessage(c)))})
	if err != nil {
		return res, err
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+spec.RollbackPath, bytes.NewReader(body))
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := do(req, &res); err != nil {
		return res, fmt.Errorf("asking %s to go back from %s to %s: %w", base, c.Version, c.Previous, err)
	}
	return res, nil
}

// ErrNoPrevious: the appliance's other slot holds nothing to go back to.
var ErrNoPrevious = errors.New("nothing to roll back to")
