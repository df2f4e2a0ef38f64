package updateclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater"
)

func TestBaseURL(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"203.0.113.7", "http://203.0.113.7:4711", ""},
		{"203.0.113.7:9000", "http://203.0.113.7:9000", ""},
		{"box.example.org", "http://box.example.org:4711", ""},
		{"[2001:db8::1]:9000", "http://[2001:db8::1]:9000", ""},
		{"2001:db8::1", "http://[2001:db8::1]:4711", ""},
		{"http://127.0.0.1:5000/", "http://127.0.0.1:5000", ""},
		{"", "", "want HOST"},
		{"host:port", "", "not a number"},
	} {
		got, err := BaseURL(c.in, 4711)
		if got != c.want || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("BaseURL(%q) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
		}
	}
}

// The client against the real agent: a bundle goes in with a progress bar,
// a refusal comes back in the appliance's words.
func TestSendToAgent(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	slot := filepath.Join(dir, "slot")
	must(t, os.WriteFile(slot, make([]byte, 1<<20), 0o600))
	armed := 0
	srv := httptest.NewServer(&updater.Server{
		Receiver: &updater.Receiver{
			Running: bundle.RunningSystem{Board: "qemu-x86_64", Arch: "amd64", Version: "1.0.0", SlotBytes: 1 << 20},
			Keys:    []ed25519.PublicKey{pub}, Slot: slot, SlotName: "b",
			Arm: func(bundle.Header) error { armed++; return nil },
		},
		Allow:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Status: func() spec.UpdateStatus { return spec.UpdateStatus{Version: "1.0.0", Slot: "a", Committed: "a"} },
	})
	defer srv.Close()
	image := bytes.Repeat([]byte("new system "), 50000)
	good := writeBundle(t, dir, "good.mkup", "1.1.0", image, priv)
	var bar bytes.Buffer
	res, err := Send(context.Background(), srv.URL, good, &bar)
	if err != nil || res.Version != "1.1.0" || res.Slot != "b" || armed != 1 {
		t.Fatalf("Send: %+v %v (armed %d)", res, err, armed)
	}
	if !strings.Contains(bar.String(), "sending") {
		t.Errorf("no progress bar: %q", bar.String())
	}
	old := writeBundle(t, dir, "old.mkup", "0.9.0", image, priv)
	_, err = Send(context.Background(), srv.URL, old, nil)
	if err == nil || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "older than the running version") {
		t.Errorf("old bundle: %v", err)
	}
	// The refusal is the agent's answer, told apart from a network error.
	var ans *AnswerError
	if !errors.As(err, &ans) || !strings.HasPrefix(ans.Status, "422") || !strings.Contains(ans.Message, "older than the running version") {
		t.Errorf("old bundle: %#v is no AnswerError", err)
	}
	st, err := Status(context.Background(), srv.URL)
	if err != nil || st.Version != "1.0.0" {
		t.Errorf("Status: %+v %v", st, err)
	}
}

// WaitCommitted sees through the reboot (connection refused, then a
// trial) to the commit, and reports a rollback with its reason.
func TestWaitCommitted(t *testing.T) {
	var calls atomic.Int32
	earlier := &spec.TrialResult{Slot: "b", Version: "1.1.0", Result: spec.TrialRolledBack, Reason: "the new system did not judge itself"}
	states := []spec.UpdateStatus{
		// The trial of 1.1.0 after an earlier one that lost power.
		{Version: "1.1.0", Slot: "b", Committed: "a", Trial: true, Last: earlier},
		{Version: "1.1.0", Slot: "b", Committed: "b"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if n == 0 {
			http.Error(w, "rebooting", http.StatusServiceUnavailable)
			return
		}
		writeStatus(w, states[min(n-1, len(states)-1)])
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := WaitCommitted(ctx, srv.URL, "1.1.0", time.Millisecond); err != nil || st.Committed != "b" {
		t.Errorf("WaitCommitted: %+v %v", st, err)
	}
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, spec.UpdateStatus{Version: "1.0.0", Slot: "a", Committed: "a",
			Last: &spec.TrialResult{Slot: "b", Version: "1.1.0", Result: spec.TrialRolledBack, Reason: "health /app/ answered 500"}})
	}))
	defer back.Close()
	st, err := WaitCommitted(ctx, back.URL, "1.1.0", time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "the appliance went back to version 1.0.0: the trial of 1.1.0 failed: health /app/ answered 500") {
		t.Errorf("rollback: %v", err)
	}
	var rb *RolledBackError
	if !errors.As(err, &rb) || rb.Reason != "health /app/ answered 500" || rb.Running != "1.0.0" || st.Version != "1.0.0" {
		t.Errorf("rollback: %#v, %+v", err, st)
	}
}

func writeStatus(w http.ResponseWriter, st spec.UpdateStatus) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func writeBundle(t *testing.T, dir, name, version string, image []byte, priv ed25519.PrivateKey) string {
	t.Helper()
	sum := sha256.Sum256(image)
	h := bundle.Header{Format: 1, Board: "qemu-x86_64", Arch: "amd64", Version: version,
		Payload: bundle.Payload{Size: int64(len(image)), SHA256: hex.EncodeToString(sum[:]), Encoding: "raw", ImageSize: int64(len(image))}}
	var b bytes.Buffer
	must(t, bundle.Write(&b, h, bytes.NewReader(image), priv))
	p := filepath.Join(dir, name)
	must(t, os.WriteFile(p, b.Bytes(), 0o644))
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
