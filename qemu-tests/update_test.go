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
// directory. app is how the notes app behaves: "ok"; "fail": its health
// URL answers 500; "exit": it exits 1 at start (NOTES_EXIT=start). extra
// is appended to the config, whose last table is [update] (a keys = [...]
// line lands there).
func updateImage(t *testing.T, env []string, board, version, app, extra string) string {
	t.Helper()
	dir := t.TempDir()
	www := filepath.Join(tool.Src, "examples", "appliance", "www")
	cfg := fmt.Sprintf(`board = %q
[network]
address = "10.0.2.15/24"
[web]
root = %q
[web.status]
path = "/.status"
allow = ["10.0.2.2/32"]
[[app]]
name = "notes"
prefix = "/notes"
program = %q
procs = 1
env = { NOTES_VERSION = %q, NOTES_HEALTH = %q, NOTES_EXIT = %q }
[update]
listen = ":4711"
allow = ["10.0.2.2/32"]
version = %q
health = "/notes/health"
deadline = "60s"
`, board, www, filepath.Join(tool.Src, "qemu-tests", "testdata", "notes"), version, app, notesExit[app], version) + extra
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, env, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build %s: exit %d\n%s", version, code, msg)
	}
	return filepath.Join(out, board)
}

// notesExit is the notes app's NOTES_EXIT for updateImage's app.
var notesExit = map[string]string{"exit": "start"}

// appExitReason is what a rollback's reason must say of an app that
// exits at start: that it did not start, or its exit.
var appExitReason = regexp.MustCompile(`(notes\.0|pool notes|app notes|service notes)\b.*(exit|backoff|restart|not ready|crash)`)

var updateTo = regexp.MustCompile(`mkimage update \S+ --to (127\.0\.0\.1:\d+)`)

// TestUpdate runs one appliance through its updates under SeaBIOS, in one
// QEMU run (the guest reboots into each trial and back): bundles signed
// by an unknown key or older than the running version are refused before
// anything is written; damaged copies of a good bundle (truncated, one
// byte of the payload inverted) are refused once the damage shows, with
// no trial armed and no reboot; the good one is then written to slot b,
// tried, committed and serves, with /data untouched; bad ones (its health
// URL answers 500, its app exits at start, its kernel panics) are tried
// and rolled back with no help, mkimage update says why, and the version
// before them serves again.
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

	// Damaged bundles, sent through the running appliance: written to the
	// other slot up to where the damage shows, then refused; no trial is
	// armed, nothing reboots, 1.0.0 serves on.
	mark := g.Console.Len()
	good, truncated, flipped := damagedBundles(t, env, v2, t.TempDir())
	for _, c := range []struct{ file, want string }{
		{truncated, "bundle truncated"},
		{flipped, "bundle corrupt"},
	} {
		start := time.Now()
		msg, code := run(t, env, "update", c.file, "--to", to)
		t.Logf("%s refused after %.1f s: mkimage update said: %s", filepath.Base(c.file), time.Since(start).Seconds(), lastLine(msg))
		if code == 0 || !strings.Contains(msg, c.want) {
			t.Errorf("a damaged bundle (%s): exit %d, want a refusal that says %q:\n%s", filepath.Base(c.file), code, c.want, msg)
		}
		if n := notes(t, g, ""); n.Version != "1.0.0" || n.Note != "written by 1.0.0" {
			t.Errorf("after %s: %+v", filepath.Base(c.file), n)
		}
		st, code := run(t, env, "update", "--to", to, "--status")
		if code != 0 || !strings.Contains(st, "version   1.0.0 in slot a (committed slot: a)") || strings.Contains(st, "trial") || strings.Contains(st, "busy") {
			t.Errorf("status after %s: exit %d\n%s", filepath.Base(c.file), code, st)
		}
	}
	if l := consoleMatchesFrom(g.Console, mark, regexp.MustCompile(rebootLine.String()+`| written to slot `)); l != "" {
		t.Errorf("a damaged bundle was taken or rebooted the appliance: %q", l)
	}

	// A good update (the bundle the damaged ones are copies of): trial,
	// commit, /data kept.
	start := time.Now()
	if msg, code := run(t, env, "update", good, "--to", to); code != 0 {
		t.Fatalf("update to 1.1.0: exit %d\n%s", code, msg)
	}
	t.Logf("update to 1.1.0 committed after %.1f s", time.Since(start).Seconds())
	if n := strings.Count(consoleFrom(g.Console, mark), "\ninit: shutdown: "); n != 1 {
		t.Errorf("%d shutdowns since the damaged bundles were sent, want 1 (the good update's)", n)
	}
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

	// An app that exits at start: the trial fails with no help and says
	// why; 1.1.0 serves again, the note kept.
	v5 := updateImage(t, env, "qemu-x86_64", "1.2.5", "exit", "")
	start = time.Now()
	msg, code = run(t, env, "update", v5, "--to", to)
	t.Logf("the trial of 1.2.5 (its app exits at start) was rolled back after %.1f s: mkimage update said: %s", time.Since(start).Seconds(), lastLine(msg))
	if code == 0 || !strings.Contains(msg, "went back to version 1.1.0") || !appExitReason.MatchString(msg) {
		t.Errorf("an update whose app exits at start: exit %d, want a rollback whose reason matches %s\n%s", code, appExitReason, msg)
	}
	if n := notes(t, g, ""); n.Version != "1.1.0" || n.Note != "written by 1.0.0" {
		t.Errorf("after the app's rollback: %+v", n)
	}
	if msg, code := run(t, env, "update", "--to", to, "--status"); code != 0 || !strings.Contains(msg, "1.2.5 (from 1.1.0) in slot a: rolled back") {
		t.Errorf("status after the app's rollback: exit %d\n%s", code, msg)
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
// AAVMF (aarch64): the same GRUB mechanism under both UEFI firmwares. On
// x86_64 the good update rotates the signing key (updateRotated); on
// aarch64 a bad one panics and comes back (updatePanicsUEFI).
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
			// On x86_64, 1.1.0's [update] keys lists only a new key.
			rotate := board == "qemu-x86_64"
			var keyDir, extra string
			if rotate {
				var pub string
				keyDir, pub = newKey(t, env)
				extra = fmt.Sprintf("keys = [%q]\n", pub)
			}
			v2 := updateImage(t, env, board, "1.1.0", "ok", extra)
			start := time.Now()
			if msg, code := run(t, env, "update", v2, "--to", to); code != 0 {
				t.Fatalf("update to 1.1.0: exit %d\n%s", code, msg)
			}
			t.Logf("%s under UEFI: update to 1.1.0 committed after %.1f s", board, time.Since(start).Seconds())
			if n := notes(t, g, ""); n.Version != "1.1.0" || n.Note != "written by 1.0.0" {
				t.Errorf("after the update: %+v", n)
			}
			if rotate {
				updateRotated(t, env, g, board, to, keyDir, extra)
			} else {
				updatePanicsUEFI(t, env, g, board, to)
			}
			powerOff(t, g)
		})
	}
}

// updateRotated goes on with an appliance on 1.1.0 whose image trusts
// only the key in keyDir (extra lists it), put there by an update signed
// by the old key: a bundle signed by the old key is refused as not
// trusted before anything is written, and 1.2.0 signed by the new key is
// taken, tried and committed.
func updateRotated(t *testing.T, env []string, g *Guest, board, to, keyDir, extra string) {
	v3 := updateImage(t, env, board, "1.2.0", "ok", extra)
	mark := g.Console.Len()
	msg, code := run(t, env, "update", v3, "--to", to)
	if code == 0 || !strings.Contains(msg, "not trusted") {
		t.Errorf("after the key rotation, a bundle signed by the old key: exit %d, want \"not trusted\"\n%s", code, msg)
	}
	t.Logf("after the key rotation, the old key's bundle was refused: %s", lastLine(msg))
	if l := consoleMatchesFrom(g.Console, mark, regexp.MustCompile(rebootLine.String()+`| written to slot `)); l != "" {
		t.Errorf("the old key's bundle was taken or rebooted the appliance: %q", l)
	}
	start := time.Now()
	if msg, code := run(t, env, "update", v3, "--to", to, "--key", filepath.Join(keyDir, "update.key")); code != 0 || !strings.Contains(msg, "committed version 1.2.0") {
		t.Fatalf("after the key rotation, 1.2.0 signed by the new key: exit %d\n%s", code, msg)
	}
	t.Logf("after the key rotation, 1.2.0 signed by the new key committed after %.1f s", time.Since(start).Seconds())
	if n := notes(t, g, ""); n.Version != "1.2.0" || n.Note != "written by 1.0.0" || n.System != "1.2.0" || n.Previous != "1.1.0" {
		t.Errorf("after the new key's update: %+v (want the app told system 1.2.0, previous 1.1.0)", n)
	}
	rollBack(t, env, g, to, keyDir)
}

// updatePanicsUEFI goes on with an appliance on 1.1.0 in slot b: 1.2.0,
// its initramfs cut in half inside the slot image and validly signed, is
// taken and tried; the kernel cannot unpack the initramfs and panics, the
// firmware and GRUB boot the committed slot, which records that the trial
// did not judge itself; 1.1.0 serves again with the note.
func updatePanicsUEFI(t *testing.T, env []string, g *Guest, board, to string) {
	v3 := updateImage(t, env, board, "1.2.0", "ok", "")
	whole, half := truncateInitrd(t, v3)
	t.Logf("initrd.zst in 1.2.0's slot image cut from %d to %d bytes", whole, half)
	mark := g.Console.Len()
	start := time.Now()
	msg, code := run(t, env, "update", v3, "--to", to, "--timeout", qemu.Scaled(5*time.Minute).String())
	t.Logf("%s under UEFI: 1.2.0 (initramfs cut short) rolled back after %.1f s: mkimage update said: %s", board, time.Since(start).Seconds(), lastLine(msg))
	if !strings.Contains(msg, "version 1.2.0 is in slot a; rebooting into it for a trial") {
		t.Errorf("the bundle with the initramfs cut short was not taken:\n%s", msg)
	}
	if code == 0 || !strings.Contains(msg, "went back to version 1.1.0") || !strings.Contains(msg, "did not judge itself") {
		t.Errorf("an update whose initramfs is cut short: exit %d, want a rollback of a trial that did not judge itself\n%s", code, msg)
	}
	if _, err := g.Console.WaitFrom(mark, regexp.MustCompile(`Kernel panic`), qemu.Scaled(10*time.Second)); err != nil {
		t.Errorf("the trial of 1.2.0 did not panic: %v", err)
	}
	for _, l := range strings.Split(consoleFrom(g.Console, mark), "\n") {
		if strings.Contains(l, "Initramfs unpacking failed") || strings.Contains(l, "Kernel panic") {
			t.Logf("console: %s", l)
		}
	}
	if l := consoleMatchesFrom(g.Console, mark, regexp.MustCompile(`\(version 1\.2\.0\) is on trial`)); l != "" {
		t.Errorf("1.2.0's init ran with its initramfs cut short: %q", l)
	}
	if n := notes(t, g, ""); n.Version != "1.1.0" || n.Note != "written by 1.0.0" {
		t.Errorf("after the panic: %+v", n)
	}
	if msg, code := run(t, env, "update", "--to", to, "--status"); code != 0 || !strings.Contains(msg, "version   1.1.0 in slot b (committed slot: b)") ||
		!strings.Contains(msg, "1.2.0 (from 1.1.0) in slot a: rolled back") || !strings.Contains(msg, "did not judge itself") {
		t.Errorf("status after the panic: exit %d\n%s", code, msg)
	}
}
