package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/updatekey"
	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater"
)

// updateImage writes what `mkimage build` leaves for a board with slots:
// manifest.json (version, update port) and slot.img; without a version
// it is an image built without [update]; without slot a board without
// slots.
func updateImage(t *testing.T, version string, slot bool, port int) string {
	t.Helper()
	dir := t.TempDir()
	m := &manifest.Manifest{Board: "qemu-x86_64", Arch: "amd64", Version: version, UpdatePort: port}
	if slot {
		img := bytes.Repeat([]byte("a new system "), 100000)
		if err := os.WriteFile(filepath.Join(dir, "slot.img"), img, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := manifest.Describe(dir, "slot.img")
		if err != nil {
			t.Fatal(err)
		}
		m.Slot = &f
	}
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// signingKey makes a key pair with keygen and returns the private key's
// path and the public key.
func signingKey(t *testing.T) (string, ed25519.PublicKey) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := keygen(t, "-o", dir); err != nil {
		t.Fatal(err)
	}
	line, err := updatekey.ReadPublicKey(filepath.Join(dir, updatekey.PublicName))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := bundle.ParsePublic(line)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, updatekey.PrivateName), pub
}

func update(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runUpdate(context.Background(), args, &out, 10*time.Millisecond)
	return out.String(), err
}

// Every form's mistakes are refused before anything is built, signed or
// sent (the port 1 target is never dialled).
func TestUpdateArgs(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no key there
	good := updateImage(t, "1.1.0", true, 0)
	noSlot := updateImage(t, "1.1.0", false, 0)
	noUpdate := updateImage(t, "", true, 0)
	bundleFile := filepath.Join(t.TempDir(), "x.mkup")
	os.WriteFile(bundleFile, []byte("MKUP"), 0o644)
	cfgDir := t.TempDir()
	os.Mkdir(filepath.Join(cfgDir, "www"), 0o755)
	noUpdateCfg := filepath.Join(cfgDir, "appliance.toml")
	os.WriteFile(noUpdateCfg, []byte("[web]\nroot = \"www\"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out.mkup")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to do: give --to"},
		{[]string{good}, "nothing to do: give --to"},
		{[]string{"--status"}, "--status needs --to"},
		{[]string{"--status", "--to", "h", good}, "--status takes only --to"},
		{[]string{"--to", "h", good, bundleFile}, "one image directory or bundle file, got 2"},
		{[]string{"-c", noUpdateCfg, good, "--to", "h"}, "not both"},
		{[]string{bundleFile}, "sending " + bundleFile + " needs --to"},
		{[]string{bundleFile, "--to", "h", "--bundle", out}, "is a bundle made earlier"},
		{[]string{"--to", "h", "--downgrade", bundleFile}, "is a bundle made earlier"},
		{[]string{good, "--to", "h", "--timeout", "0s"}, "--timeout"},
		{[]string{noSlot, "--to", "127.0.0.1:1"}, "has no slot image (slot.img)"},
		{[]string{noUpdate, "--bundle", out}, "built without [update]"},
		{[]string{"-c", noUpdateCfg, "--to", "127.0.0.1:1"}, "update: updates are off"},
		{[]string{good, "--bundle", out}, "run `mkimage keygen`"},
		{[]string{good, "--bundle", out, "--key", filepath.Join(cfgDir, "missing.key")}, "missing.key"},
		{[]string{"--to", "h:port", "--status"}, "not a number"},
		{[]string{"--rollback"}, "--rollback needs --to"},
		{[]string{"--rollback", "--status", "--to", "h"}, "not both"},
		{[]string{"--rollback", "--to", "h", good}, "--rollback takes only --to"},
		{[]string{"--rollback", "--to", "a,b"}, "one appliance"},
		{[]string{"--rollback", "--to", "127.0.0.1:1"}, "run `mkimage keygen`"},
	} {
		if _, err := update(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("update %q: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused update wrote %s", out)
	}
}

// Offline: the bundle goes where --bundle says, signed as a downgrade if
// asked, and verifies with the public key.
func TestUpdateBundleOffline(t *testing.T) {
	keyPath, pub := signingKey(t)
	dir := updateImage(t, "1.1.0", true, 0)
	out := filepath.Join(t.TempDir(), "app-1.1.0.mkup")
	text, err := update(t, dir, "--bundle", out, "--key", keyPath, "--downgrade")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "bundle   "+out+": version 1.1.0 for qemu-x86_64 (amd64)") || !strings.Contains(text, "signed as a downgrade") {
		t.Errorf("output:\n%s", text)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := bundle.Open(f, []ed25519.PublicKey{pub}, bundle.Limits{})
	if err != nil || !r.Header().Downgrade || r.Header().Version != "1.1.0" {
		t.Fatalf("the bundle: %v", err)
	}
}

// fakeAppliance is the real agent's HTTP API over a slot file, running
// 1.0.0; once it took a bundle, it "reboots": its status answers 503 a few
// times, then comes back as after says.
type fakeAppliance struct {
	*updater.Server
	mu        sync.Mutex
	installed bool
	down      int
	after     spec.UpdateStatus
	hits      int // requests of any kind
}

func newFakeAppliance(t *testing.T, pub ed25519.PublicKey, after spec.UpdateStatus) (*fakeAppliance, string) {
	t.Helper()
	slot := filepath.Join(t.TempDir(), "slot-b")
	if err := os.WriteFile(slot, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a := &fakeAppliance{down: 3, after: after}
	// A trial of 1.1.0 failed before: the old system's status must not be
	// taken for this update's verdict.
	before := spec.UpdateStatus{Version: "1.0.0", Slot: "a", Committed: "a",
		Last: &spec.TrialResult{Slot: "b", Version: "1.1.0", From: "1.0.0", Result: spec.TrialRolledBack, Reason: "an earlier attempt"}}
	a.Server = &updater.Server{
		Receiver: &updater.Receiver{
			Running: bundle.RunningSystem{Board: "qemu-x86_64", Arch: "amd64", Version: "1.0.0", SlotBytes: 64 << 20},
			Keys:    []ed25519.PublicKey{pub}, Slot: slot, SlotName: "b",
			Arm: func(bundle.Header) error { return nil },
		},
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Status: func() spec.UpdateStatus {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.installed {
				return a.after
			}
			return before
		},
		Installed: func(updater.Result) { a.mu.Lock(); a.installed = true; a.mu.Unlock() },
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return a, u.Host
}

func (a *fakeAppliance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.hits++
	rebooting := a.installed && a.down > 0 && r.URL.Path == spec.UpdateStatusPath
	if rebooting {
		a.down--
	}
	a.mu.Unlock()
	if rebooting {
		http.Error(w, "rebooting", http.StatusServiceUnavailable)
		return
	}
	a.Server.ServeHTTP(w, r)
}

// Update an image directory: bundle, send (to the port the image's
// manifest names), see the reboot, and the commit or the rollback's reason.
func TestUpdateToAppliance(t *testing.T) {
	keyPath, pub := signingKey(t)
	for _, c := range []struct {
		name  string
		after spec.UpdateStatus
		want  []string // in the output
		err   string
	}{
		{"committed", spec.UpdateStatus{Version: "1.1.0", Slot: "b", Committed: "b"},
			[]string{"bundle   ", "sending  ", "appliance version 1.1.0 is in slot b; rebooting into it for a trial",
				"waiting  for the appliance to reboot into 1.1.0", "reboot   the appliance went down after", "committed version 1.1.0 in slot b after"}, ""},
		{"rolled back", spec.UpdateStatus{Version: "1.0.0", Slot: "a", Committed: "a",
			Last: &spec.TrialResult{Slot: "b", Version: "1.1.0", From: "1.0.0", Result: spec.TrialRolledBack, Reason: "the health URL /app/ answered 500"}},
			[]string{"reboot   the appliance went down after"}, "the trial of 1.1.0 failed: the health URL /app/ answered 500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, hostPort := newFakeAppliance(t, pub, c.after)
			host, port, _ := strings.Cut(hostPort, ":")
			n, _ := strconv.Atoi(port)
			dir := updateImage(t, "1.1.0", true, n)
			text, err := update(t, dir, "--to", host, "--key", keyPath)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("err = %v, want %q", err, c.err)
			}
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

// A bundle made earlier is sent as it is (--no-wait returns once it is
// taken); --status prints what the appliance says.
func TestUpdateSendBundleAndStatus(t *testing.T) {
	keyPath, pub := signingKey(t)
	a, to := newFakeAppliance(t, pub, spec.UpdateStatus{Version: "1.1.0", Slot: "b", Committed: "a", Trial: true,
		Last: &spec.TrialResult{Slot: "a", Version: "1.0.0", From: "0.9.0", Result: spec.TrialCommitted, At: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)}})
	file := filepath.Join(t.TempDir(), "app.mkup")
	if _, err := update(t, updateImage(t, "1.1.0", true, 0), "--bundle", file, "--key", keyPath); err != nil {
		t.Fatal(err)
	}
	text, err := update(t, "--to", to, file, "--no-wait")
	if err != nil || !strings.Contains(text, "appliance version 1.1.0 is in slot b") || !strings.Contains(text, "not waiting") {
		t.Fatalf("send: %v\n%s", err, text)
	}
	a.mu.Lock()
	a.down = 0
	a.mu.Unlock()
	text, err = update(t, "--to", to, "--status")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"version   1.1.0 in slot b (committed slot: a)", "trial     this boot is a trial",
		"last      1.0.0 (from 0.9.0) in slot a: committed at 2026-01-02 15:04:05 UTC"} {
		if !strings.Contains(text, w) {
			t.Errorf("status lacks %q:\n%s", w, text)
		}
	}
}

func TestSizeWord(t *testing.T) {
	for n, want := range map[int64]string{545: "545 B", 1536: "1.5 KiB", 64 << 20: "64.0 MiB"} {
		if got := sizeWord(n); got != want {
			t.Errorf("sizeWord(%d) = %q, want %q", n, got, want)
		}
	}
}

// --rollback signs the appliance's challenge, then waits for the version
// it boots to be committed, like an update.
func TestUpdateRollback(t *testing.T) {
	keyPath, pub := signingKey(t)
	var mu sync.Mutex
	st := spec.UpdateStatus{Version: "1.1.0", Slot: "b", Committed: "b", Previous: "1.0.0"}
	rb := &updater.Rollback{Keys: []ed25519.PublicKey{pub}, Board: "qemu-x86_64", Version: "1.1.0", SlotName: "a",
		Previous: func() string { return "1.0.0" },
		Arm:      func(string) error { return nil }}
	srv := httptest.NewServer(&updater.Server{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Rollback: rb,
		Status: func() spec.UpdateStatus { mu.Lock(); defer mu.Unlock(); return st },
		RolledBack: func(v string) {
			mu.Lock()
			defer mu.Unlock()
			st = spec.UpdateStatus{Version: v, Slot: "a", Committed: "a"} // rebooted, judged, committed
		}})
	t.Cleanup(srv.Close)
	to := strings.TrimPrefix(srv.URL, "http://")
	out, err := update(t, "--to", to, "--status")
	if err != nil || !strings.Contains(out, "previous  1.0.0 in the other slot (--rollback boots it)") {
		t.Errorf("status: %v\n%s", err, out)
	}
	otherKey, _ := signingKey(t)
	if out, err := update(t, "--to", to, "--rollback", "--key", otherKey); err == nil || !strings.Contains(err.Error(), "not signed by a key this appliance trusts") {
		t.Errorf("another key: %v\n%s", err, out)
	}
	out, err = update(t, "--to", to, "--rollback", "--key", keyPath)
	if err != nil || !strings.Contains(out, "going back to version 1.0.0 in slot a") || !strings.Contains(out, "committed version 1.0.0 in slot a") {
		t.Errorf("rollback: %v\n%s", err, out)
	}
}
