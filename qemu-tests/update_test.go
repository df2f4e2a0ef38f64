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

// updateImage builds version of an appliance for board with the notes
// app and [update] on, in its own directory, and returns the image
// directory. health "fail" makes the app's health URL answer 500; extra
// is appended to the config.
func updateImage(t *testing.T, env []string, board, version, health, extra string) string {
	t.Helper()
	dir := t.TempDir()
	www := filepath.Join(tool.Src, "examples", "appliance", "www")
	cfg := fmt.Sprintf(`board = %q
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
`, board, www, filepath.Join(tool.Src, "qemu-tests", "testdata", "notes"), version, health, version) + extra
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, env, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build %s: exit %d\n%s", version, code, msg)
	}
	return filepath.Join(out, board)
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
	v1 := updateImage(t, env, "qemu-x86_64", "1.0.0", "ok", "")
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
	v2 := updateImage(t, env, "qemu-x86_64", "1.1.0", "ok", "")
	if msg, code := run(t, env, "update", v2, "--to", to, "--key", filepath.Join(other, "update.key")); code == 0 || !strings.Contains(msg, "not trusted") {
		t.Errorf("a bundle signed by another key: exit %d\n%s", code, msg)
	}
	v0 := updateImage(t, env, "qemu-x86_64", "0.9.0", "ok", "")
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
	v3 := updateImage(t, env, "qemu-x86_64", "1.2.0", "fail", "")
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

	// A kernel that panics (no init to run): GRUB's one-shot trial is
	// spent, the reset boots the committed slot, which records the trial
	// that never judged itself.
	v4 := updateImage(t, env, "qemu-x86_64", "1.3.0", "ok", "[kernel]\ncmdline = \"rdinit=/nonexistent\"\n")
	msg, code = run(t, env, "update", v4, "--to", to)
	if code == 0 || !strings.Contains(msg, "went back to version 1.1.0") || !strings.Contains(msg, "did not judge itself") {
		t.Errorf("a panicking update: exit %d\n%s", code, msg)
	}
	g.Console.Expect(t, regexp.MustCompile(`Kernel panic`), qemu.Scaled(10*time.Second))
	if n := notes(t, g, ""); n.Version != "1.1.0" || n.Note != "written by 1.0.0" {
		t.Errorf("after the panic: %+v", n)
	}
	powerOff(t, g)
}

// TestUpdateUEFI updates an appliance booted by OVMF (x86_64) and by
// AAVMF (aarch64): the same GRUB mechanism under both UEFI firmwares.
func TestUpdateUEFI(t *testing.T) {
	for _, board := range []string{"qemu-x86_64", "qemu-aarch64"} {
		t.Run(board, func(t *testing.T) {
			if board == "qemu-aarch64" {
				needQEMUBinary(t, "qemu-system-aarch64")
			} else {
				needQEMU(t)
			}
			env := []string{"XDG_CONFIG_HOME=" + t.TempDir()}
			if msg, code := run(t, env, "keygen"); code != 0 {
				t.Fatalf("keygen: exit %d\n%s", code, msg)
			}
			v1 := updateImage(t, env, board, "1.0.0", "ok", "")
			g := tool.Boot(t, "-boot", "uefi", "-disk", diskCopy(t, v1), v1)
			to := g.Console.Expect(t, updateTo, qemu.Scaled(30*time.Second))[1]
			g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(120*time.Second))
			notes(t, g, "written by 1.0.0")
			v2 := updateImage(t, env, board, "1.1.0", "ok", "")
			start := time.Now()
			if msg, code := run(t, env, "update", v2, "--to", to); code != 0 {
				t.Fatalf("update to 1.1.0: exit %d\n%s", code, msg)
			}
			t.Logf("%s under UEFI: update to 1.1.0 committed after %.1f s", board, time.Since(start).Seconds())
			if n := notes(t, g, ""); n.Version != "1.1.0" || n.Note != "written by 1.0.0" {
				t.Errorf("after the update: %+v", n)
			}
			powerOff(t, g)
		})
	}
}
