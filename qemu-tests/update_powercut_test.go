package qemutests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/internal/qemu"
	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/updater/slots"
)

// TestUpdatePowerCut cuts the power (SIGKILL to QEMU) at three moments of
// an update of one SeaBIOS appliance and boots the same disk again each
// time: whatever the moment, the machine boots by itself and serves, with
// the note 1.0.0 wrote on /data. The old version serves until the switch
// is durable, the new one (for a trial) after it.
//
//  1. During the write of the other slot: the old version serves,
//     committed, with no trial armed in GRUB's environment block; the same
//     bundle sent again is written over the half-written slot, tried and
//     committed.
//  2. Right after the switch (the agent's "written to slot" line, printed
//     once the trial is armed and synced): the next boot is the trial of
//     the new version, which commits itself. (The update is a signed
//     downgrade back to 1.0.0, so slot a is the one written and tried.)
//  3. During the trial (init's "is on trial" line, before its verdict):
//     the committed slot boots by itself, records the trial that never
//     judged itself, serves; the update sent again commits.
//
// The bundles are made once (mkimage update DIR --bundle) and sent with
// mkimage update FILE.mkup --to, as a background process killed by its
// PID after each cut.
func TestUpdatePowerCut(t *testing.T) {
	needQEMU(t)
	start := time.Now()
	env := []string{"XDG_CONFIG_HOME=" + t.TempDir()}
	if msg, code := run(t, env, "keygen"); code != 0 {
		t.Fatalf("keygen: exit %d\n%s", code, msg)
	}
	v1 := updateImage(t, env, "qemu-x86_64", "1.0.0", "ok", "")
	v2 := updateImage(t, env, "qemu-x86_64", "1.1.0", "ok", "")
	bundles := t.TempDir()
	// to[v] is the bundle that updates a system running v to the other
	// version: 1.1.0, or 1.0.0 signed as a downgrade.
	to := map[string]pcVersion{
		"1.0.0": {"1.1.0", filepath.Join(bundles, "1.1.0.mkup")},
		"1.1.0": {"1.0.0", filepath.Join(bundles, "1.0.0-downgrade.mkup")},
	}
	if msg, code := run(t, env, "update", v2, "--bundle", to["1.0.0"].bundle); code != 0 {
		t.Fatalf("bundling 1.1.0: exit %d\n%s", code, msg)
	}
	if msg, code := run(t, env, "update", v1, "--bundle", to["1.1.0"].bundle, "--downgrade"); code != 0 {
		t.Fatalf("bundling 1.0.0 as a downgrade: exit %d\n%s", code, msg)
	}
	t.Logf("two images built and bundled in %.1f s", time.Since(start).Seconds())

	disk := diskCopy(t, v1)
	pc := &powerCut{t: t, env: env, img: v1, disk: disk}
	pc.boot()
	if n := notes(t, pc.g, "written by 1.0.0"); n.Version != "1.0.0" {
		t.Fatalf("1.0.0 answers %+v", n)
	}
	pc.check("first boot", "1.0.0", "a")

	// Cut 1: during the write of slot b.
	t0 := time.Now()
	upd := pc.send(to["1.0.0"].bundle)
	pct, grown := pc.waitWriting(upd, 25)
	if consoleContainsFrom(pc.g.Console, upd.mark, " written to slot ") {
		t.Fatalf("cut 1 came too late: the agent had already written the slot\n%s", upd.out.String())
	}
	pid := pc.g.KillQEMU(qemu.Scaled(30 * time.Second))
	t.Logf("cut 1: QEMU %d killed during the write: the client had sent %d%%, the disk file had grown by %.1f MiB; mkimage update said: %s",
		pid, pct, float64(grown)/(1<<20), lastLine(upd.stop(t)))
	pc.boot()
	pc.check("after cut 1", "1.0.0", "a")
	if st := pc.bootEnv(); st.Committed != "a" || st.Trial != "" || st.Tried != "" {
		t.Errorf("after cut 1 GRUB's environment block holds %+v: want slot a committed and no trial armed or tried", st)
	}
	pc.update("after cut 1", to["1.0.0"])
	pc.check("after cut 1 and the update sent again", "1.1.0", "b")
	t.Logf("cut 1 and the update sent again: %.1f s", time.Since(t0).Seconds())

	// Cut 2: right after the switch (the downgrade to 1.0.0 armed in slot a).
	t0 = time.Now()
	upd = pc.send(to["1.1.0"].bundle)
	written := regexp.MustCompile(`updated: version 1\.0\.0 written to slot a .*asking init to reboot`)
	m, err := pc.g.Console.WaitFrom(upd.mark, written, qemu.Scaled(180*time.Second))
	if err != nil {
		t.Fatalf("cut 2: %v\nmkimage update said:\n%s", err, upd.stop(t))
	}
	pid = pc.g.KillQEMU(qemu.Scaled(30 * time.Second))
	shut := consoleContainsFrom(pc.g.Console, upd.mark, "init: shutdown: ok (reboot: an update was installed)")
	t.Logf("cut 2: QEMU %d killed right after %q (init's shutdown line seen: %v); mkimage update said: %s",
		pid, m[0], shut, lastLine(upd.stop(t)))
	pc.boot()
	running := "1.1.0"
	if pc.g.Console.Contains("(version 1.0.0) is on trial") {
		pc.g.Console.Expect(t, regexp.MustCompile(`^init: update: ok version 1\.0\.0 committed`), qemu.Scaled(120*time.Second))
		running = "1.0.0"
		t.Logf("cut 2: the switch was durable: the next boot was the trial of 1.0.0 in slot a, which committed itself")
		pc.check("after cut 2", "1.0.0", "a")
	} else {
		t.Logf("cut 2: the cut landed before the switch was durable: 1.1.0 in slot b serves (GRUB's environment block: %+v)", pc.bootEnv())
		pc.check("after cut 2", "1.1.0", "b")
	}
	t.Logf("cut 2: %.1f s", time.Since(t0).Seconds())

	// Cut 3: during the trial.
	t0 = time.Now()
	next := to[running]
	from, trialSlot := pc.slotOf(running), pc.slotOf(next.version)
	upd = pc.send(next.bundle)
	onTrial := regexp.MustCompile(`^init: update: ok slot ([ab]) \(version (\S+)\) is on trial`)
	if _, err := pc.g.Console.WaitFrom(upd.mark, onTrial, qemu.Scaled(240*time.Second)); err != nil {
		t.Fatalf("cut 3: %v\nmkimage update said:\n%s", err, upd.stop(t))
	}
	if consoleContainsFrom(pc.g.Console, upd.mark, "version "+next.version+" committed") {
		t.Fatalf("cut 3 came too late: the trial of %s had committed", next.version)
	}
	pid = pc.g.KillQEMU(qemu.Scaled(30 * time.Second))
	t.Logf("cut 3: QEMU %d killed during the trial of %s in slot %s; mkimage update said: %s", pid, next.version, trialSlot, lastLine(upd.stop(t)))
	pc.boot()
	pc.g.Console.Expect(t, regexp.MustCompile(`^init: update: ok slot `+from+`: the trial of slot `+trialSlot+` failed`), qemu.Scaled(10*time.Second))
	if pc.g.Console.Contains("is on trial") {
		t.Errorf("after cut 3 the trial of %s ran again: GRUB's trial is one-shot", next.version)
	}
	out := pc.check("after cut 3", running, from)
	if !strings.Contains(out, next.version) || !strings.Contains(out, "rolled back") || !strings.Contains(out, "did not judge itself") {
		t.Errorf("after cut 3 the status does not say that the trial of %s never judged itself:\n%s", next.version, out)
	}
	mark := pc.g.Console.Len()
	pc.update("after cut 3", next)
	// (The agent reports the commit from GRUB's block, init prints it after.)
	if _, err := pc.g.Console.WaitFrom(mark, regexp.MustCompile(`^init: update: ok version `+regexp.QuoteMeta(next.version)+` committed`), qemu.Scaled(10*time.Second)); err != nil {
		t.Errorf("after cut 3 init did not say it committed %s: %v", next.version, err)
	}
	pc.check("after cut 3 and the update sent again", next.version, trialSlot)
	t.Logf("cut 3 and the update sent again: %.1f s; %.1f s in all", time.Since(t0).Seconds(), time.Since(start).Seconds())
	powerOff(t, pc.g)
}

// pcVersion is a version to update to and its bundle.
type pcVersion struct{ version, bundle string }

// powerCut is TestUpdatePowerCut's appliance: one disk booted again after
// each cut.
type powerCut struct {
	t         *testing.T
	env       []string
	img, disk string
	g         *Guest
	to        string // the update agent's forwarded address
}

// slotOf is the slot that holds version (as the test put it there).
func (pc *powerCut) slotOf(version string) string {
	if version == "1.0.0" {
		return "a"
	}
	return "b"
}

// boot boots the disk under SeaBIOS and waits until init is ready (and,
// on a trial, until it was judged).
func (pc *powerCut) boot() {
	t := pc.t
	t.Helper()
	pc.g = tool.Boot(t, "-boot", "bios", "-disk", pc.disk, pc.img)
	pc.to = pc.g.Console.Expect(t, updateTo, qemu.Scaled(30*time.Second))[1]
	pc.g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(120*time.Second))
}

// check asserts what serves (the notes app's version, the note 1.0.0
// wrote) and what mkimage update --status says, and returns the status.
func (pc *powerCut) check(when, version, slot string) string {
	t := pc.t
	t.Helper()
	if n := notes(t, pc.g, ""); n.Version != version || n.Note != "written by 1.0.0" {
		t.Errorf("%s: the app answers %+v: want version %s and the note written by 1.0.0", when, n, version)
	}
	out := pc.status()
	want := fmt.Sprintf("version   %s in slot %s (committed slot: %s)", version, slot, slot)
	if !strings.Contains(out, want) || strings.Contains(out, "this boot is a trial") || strings.Contains(out, "busy") {
		t.Errorf("%s: mkimage update --status says\n%s\nwant %q, no trial, not busy", when, out, want)
	}
	t.Logf("%s: %s serves from slot %s; status:\n%s", when, version, slot, strings.TrimSpace(out))
	return out
}

// status runs mkimage update --status, trying again while the agent
// starts.
func (pc *powerCut) status() string {
	t := pc.t
	t.Helper()
	deadline := time.Now().Add(qemu.Scaled(30 * time.Second))
	for {
		msg, code := run(t, pc.env, "update", "--to", pc.to, "--status")
		if code == 0 {
			return msg
		}
		if time.Now().After(deadline) {
			t.Fatalf("mkimage update --status: exit %d\n%s", code, msg)
		}
		time.Sleep(time.Second)
	}
}

// update sends v's bundle and waits until mkimage update reports it
// committed.
func (pc *powerCut) update(when string, v pcVersion) {
	t := pc.t
	t.Helper()
	start := time.Now()
	msg, code := run(t, pc.env, "update", v.bundle, "--to", pc.to, "--timeout", qemu.Scaled(5*time.Minute).String())
	if code != 0 || !strings.Contains(msg, "committed version "+v.version) {
		t.Fatalf("%s: updating to %s: exit %d\n%s", when, v.version, code, msg)
	}
	t.Logf("%s: the update to %s committed after %.1f s", when, v.version, time.Since(start).Seconds())
}

// bgUpdate is mkimage update running in the background.
type bgUpdate struct {
	mark int // the guest's console lines before it started
	cmd  *exec.Cmd
	out  *testkit.SyncBuffer
	done chan struct{}
}

// send starts mkimage update FILE.mkup --to (the agent) in the
// background.
func (pc *powerCut) send(bundle string) *bgUpdate {
	t := pc.t
	t.Helper()
	cmd := tool.Command("update", bundle, "--to", pc.to)
	cmd.Env = append(cmd.Env, pc.env...)
	u := &bgUpdate{mark: pc.g.Console.Len(), cmd: cmd, out: &testkit.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = u.out, u.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mkimage update: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(u.done)
	}()
	t.Cleanup(func() { u.stop(t) })
	return u
}

// stop kills mkimage update (by its PID) unless it exited, and returns
// what it printed.
func (u *bgUpdate) stop(t *testing.T) string {
	select {
	case <-u.done:
	default:
		if err := u.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("killing mkimage update (pid %d): %v", u.cmd.Process.Pid, err)
		}
		<-u.done
	}
	return u.out.String()
}

var sendingRE = regexp.MustCompile(`sending\s+(\d+)%`)

// waitWriting waits until the client has sent at least pct percent of
// the bundle and the disk file grew by at least 1 MiB (the agent's writes
// into the slot reached the disk: the guest's page cache holds the rest
// until writeback), or, should the growth not show, until 85 % were sent;
// it returns the percentage and the growth.
func (pc *powerCut) waitWriting(u *bgUpdate, pct int) (int, int64) {
	t := pc.t
	t.Helper()
	before := allocated(t, pc.disk)
	deadline := time.Now().Add(qemu.Scaled(120 * time.Second))
	for {
		sent := -1
		for _, m := range sendingRE.FindAllStringSubmatch(u.out.String(), -1) {
			sent, _ = strconv.Atoi(m[1])
		}
		grown := allocated(t, pc.disk) - before
		if sent >= pct && grown >= 1<<20 || sent >= 85 {
			return sent, grown
		}
		select {
		case <-u.done:
			t.Fatalf("mkimage update ended before the cut:\n%s", u.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the write did not start (sent %d%%, disk grown by %d bytes):\n%s", sent, grown, u.out.String())
		}
	}
}

// allocated is the bytes the (sparse) disk file holds.
func allocated(t *testing.T, path string) int64 {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// bootEnv reads GRUB's environment block from the disk file: the one
// 1024-byte block, sector-aligned, that parses as one.
func (pc *powerCut) bootEnv() slots.BootState {
	t := pc.t
	t.Helper()
	f, err := os.Open(pc.disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const header = "# GRUB Environment Block\n"
	r := bufio.NewReaderSize(f, 1<<20)
	var found []slots.Env
	buf := make([]byte, 512)
	var pending []byte // a block's first sector, waiting for its second
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			break
		}
		if pending != nil {
			if e, err := slots.ParseEnv(append(pending, buf...)); err == nil {
				found = append(found, e)
			}
			pending = nil
		}
		if bytes.HasPrefix(buf, []byte(header)) {
			pending = append([]byte(nil), buf...)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the disk holds %d GRUB environment blocks, want 1", len(found))
	}
	e := found[0]
	return slots.BootState{Committed: e.Get("committed"), Trial: e.Get("trial"), Tried: e.Get("tried")}
}

// lastLine is the last non-empty line (or \r-separated progress update)
// of out.
func lastLine(out string) string {
	f := strings.FieldsFunc(out, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := len(f) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(f[i]); s != "" {
			return s
		}
	}
	return ""
}

// consoleContainsFrom reports whether a line after the first from
// contains s.
func consoleContainsFrom(c *Console, from int, s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines[min(from, len(c.lines)):] {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
