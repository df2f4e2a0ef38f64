package updater

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/updateclient"
	"github.com/mkimage/mkimage/spec"
)

// rollbackServer serves a Rollback whose other slot holds previous; armed
// collects what it armed, rolled what RolledBack got.
func rollbackServer(t *testing.T, pub ed25519.PublicKey, previous *string, refuse *error) (string, *Rollback, *[]string, chan string) {
	var armed []string
	rolled := make(chan string, 4)
	rb := &Rollback{Keys: []ed25519.PublicKey{pub}, Board: "qemu-x86_64", Version: "1.1.0", SlotName: "a",
		Previous: func() string { return *previous },
		Arm:      func(v string) error { armed = append(armed, v); return nil }}
	s := &Server{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Rollback: rb,
		Refuse:     func() error { return *refuse },
		RolledBack: func(v string) { rolled <- v }}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL, rb, &armed, rolled
}

func TestRollback(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	previous, refuse := "1.0.0", error(nil)
	url, rb, armed, rolled := rollbackServer(t, pub, &previous, &refuse)
	ctx := context.Background()

	if _, err := updateclient.Rollback(ctx, url, other); err == nil || !strings.Contains(err.Error(), "not signed by a key this appliance trusts") {
		t.Errorf("another key: %v", err)
	}
	refuse = errors.New("this version is on trial")
	if _, err := updateclient.Rollback(ctx, url, priv); err == nil || !strings.Contains(err.Error(), "on trial") {
		t.Errorf("during a trial: %v", err)
	}
	refuse = nil
	res, err := updateclient.Rollback(ctx, url, priv)
	if err != nil || res.Version != "1.0.0" || res.Slot != "a" {
		t.Fatalf("rollback: %+v %v", res, err)
	}
	select {
	case v := <-rolled:
		if v != "1.0.0" || len(*armed) != 1 || (*armed)[0] != "1.0.0" {
			t.Errorf("rolled back to %q, armed %v", v, *armed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RolledBack never ran")
	}
	previous = ""
	if _, err := updateclient.Rollback(ctx, url, priv); !errors.Is(err, updateclient.ErrNoPrevious) {
		t.Errorf("nothing to go back to: %v", err)
	}

	// A challenge is good once, for a while, and only the newest
	// maxChallenges are kept.
	previous = "1.0.0"
	now := time.Now()
	sign := func(c spec.RollbackChallenge) spec.RollbackRequest {
		return spec.RollbackRequest{Nonce: c.Nonce, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, spec.RollbackMessage(c)))}
	}
	c, _ := rb.challenge(now)
	if _, code, err := rb.check(sign(c), now); err != nil || code != http.StatusOK {
		t.Errorf("fresh challenge: %d %v", code, err)
	}
	if _, code, _ := rb.check(sign(c), now); code != http.StatusForbidden {
		t.Errorf("replayed challenge: %d", code)
	}
	c, _ = rb.challenge(now)
	if _, code, _ := rb.check(sign(c), now.Add(challengeTTL)); code != http.StatusForbidden {
		t.Errorf("expired challenge: %d", code)
	}
	first, _ := rb.challenge(now)
	for range maxChallenges {
		_, _ = rb.challenge(now.Add(time.Second))
	}
	if n := len(rb.issued); n != maxChallenges {
		t.Errorf("%d challenges kept, want %d", n, maxChallenges)
	}
	if _, code, _ := rb.check(sign(first), now.Add(2*time.Second)); code != http.StatusForbidden {
		t.Errorf("an evicted challenge: %d", code)
	}
	// A signature for another state (the other slot changed since).
	c, _ = rb.challenge(now)
	c.Previous = "0.9.0"
	if _, code, _ := rb.check(sign(c), now); code != http.StatusForbidden {
		t.Errorf("a signature over another version: %d", code)
	}
}
