package qemutests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
)

// updateImage builds version of an appliance with the notes app and
// [update] on, in its own directory, and returns the image directory.
// health "fail" makes the app's health URL answer 500.
func updateImage(t *testing.T, env []string, version, health string) string {
	t.Helper()
	dir := t.TempDir()
	www := filepath.Join(tool.Src, "examples", "appliance", "www")
	cfg := fmt.Sprintf(`board = "qemu-x86_64"
[network]
address = "10.0.2.15/24"
[web]
root = %q
[[app]]
name = "notes"
prefix = "/notes"
program = %q
procs = 1
env = { NOTES_VERSION = %q, NOTES_HEALTH = %q }
[update]
listen = ":4711"
allow = ["10.0.2.2/32"]
version = %q
health = "/notes/health"
deadline = "60s"
`, www, filepath.Join(tool.Src, "qemu-tests", "testdata", "notes"), version, health, version)
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, env, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build %s: exit %d\n%s", version, code, msg)
	}
	return filepath.Join(out, "qemu-x86_64")
}

var updateTo = regexp.MustCompile(`mkimage update \S+ --to (127\.0\.0\.1:\d+)`)

// TestUpdate runs one appliance through its updates under SeaBIOS, in one
// QEMU run (the guest reboots into each trial and back): bundles signed
// by an unknown key or older than the running version are refused before
// anything is written; a good one is written to slot b, tried, committed
// and serves, with /data untouched; a bad one (its health URL answers 500)
// is tried and rolled back with no help, the status says why, and the
// version before it serves again.
func TestUpdate(t *testing.T) {
	needQEMU(t)
	cfgHome := t.TempDir()
	env := []string{"XDG_CONFIG_HOME=" + cfgHome}
	if msg, code := run(t, env, "keygen"); code != 0 {
		t.Fatalf("keygen: exit %d\n%s", code, msg)
	}
	v1 := updateImage(t, env, "1.0.0", "ok")
	g := tool.Boot(t, "-boot", "bios", "-disk", diskCopy(t, v1), v1)
	to := g.Console.Expect(t, updateTo, qemu.Scaled(30*time.Second))[1]
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(120*time.Second))
	if n := notes(t, g, "written by 1.0.0"); n.Version != "1.0.0" {
		t.Fatalf("v1 answers %+v", n)
	}

	// Refused before a byte is written.
	other := t.TempDir()
	if msg, code := run(t, env, "keygen", "-o", other); code != 0 {
		t.Fatalf("keygen -o: %s", msg)
	}
	v2 := updateImage(t, env, "1.1.0", "ok")
	if msg, code := run(t, env, "update", v2, "--to", to, "--key", filepath.Join(other, "update.key")); code == 0 || !strings.Contains(msg, "not trusted") {
		t.Errorf("a bundle signed by another key: exit %d\n%s", code, msg)
	}
	v0 := updateImage(t, env, "0.9.0", "ok")
	if msg, code := run(t, env, "update", v0, "--to", to); code == 0 || !strings.Contains(msg, "older than the running version 1.0.0") {
		t.Errorf("a downgrade: exit %d\n%s", code, msg)
	}

	// A good update: trial, commit, /data kept.
	start := time.Now()
	if msg, code := run(t, env, "update", v2, "--to", to); code != 0 {
		t.Fatalf("update to 1.1.0: exit %d\n%s", code, msg)
	}
	t.Logf("update to 1.1.0 committed after %.1f s", time.Since(start).Seconds())
	// (GRUB's own lines go to the BIOS screen, not the serial console.)
	g.Console.Expect(t, regexp.MustCompile(`^init: update: ok slot b \(version 1\.1\.0\) is on trial: committed slot a`), qemu.Scaled(10*time.Second))
	g.Console.Expect(t, regexp.MustCompile(`^init: update: ok version 1\.1\.0 committed`), qemu.Scaled(10*time.Second))
	if n := notes(t, g, ""); n.Version != "1.1.0" || n.Note != "written by 1.0.0" {
		t.Errorf("after the update: %+v", n)
	}

	// A bad update comes back by itself.
	v3 := updateImage(t, env, "1.2.0", "fail")
	start = time.Now()
	msg, code := run(t, env, "update", v3, "--to", to)
	if code == 0 || !strings.Contains(msg, "went back to version 1.1.0") || !strings.Contains(msg, "/notes/health") {
		t.Errorf("a bad update: exit %d\n%s", code, msg)
	}
	t.Logf("the failed trial of 1.2.0 was rolled back after %.1f s", time.Since(start).Seconds())
	if n := notes(t, g, ""); n.Version != "1.1.0" || n.Note != "written by 1.0.0" {
		t.Errorf("after the rollback: %+v", n)
	}
	if msg, code := run(t, env, "update", "--to", to, "--status"); code != 0 || !strings.Contains(msg, "rolled back") {
		t.Errorf("status after the rollback: exit %d\n%s", code, msg)
	}
	powerOff(t, g)
}
