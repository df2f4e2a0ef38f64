package qemutests

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
)

// TestUpdateFleet rolls one update out to three appliances booted from
// copies of the same v1 disk, one at a time after the canary. The second
// fails its health check for v2 (its note says "fail-health", which the
// notes app answers with 500; the bundle is the same for all): the canary
// commits, the second rolls itself back and serves v1 again, the third
// is never touched, the command fails and its table says so.
func TestUpdateFleet(t *testing.T) {
	needQEMU(t)
	env := []string{"XDG_CONFIG_HOME=" + t.TempDir()}
	if msg, code := run(t, env, "keygen"); code != 0 {
		t.Fatalf("keygen: exit %d\n%s", code, msg)
	}
	v1 := updateImage(t, env, "qemu-x86_64", "1.0.0", "ok", "")
	v2 := updateImage(t, env, "qemu-x86_64", "1.1.0", "ok", "")

	start := time.Now()
	var gs []*Guest
	var to []string
	for range 3 {
		g := tool.Boot(t, "-boot", "bios", "-disk", diskCopy(t, v1), v1)
		to = append(to, g.Console.Expect(t, updateTo, qemu.Scaled(30*time.Second))[1])
		gs = append(gs, g)
	}
	for i, g := range gs {
		g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(180*time.Second))
		body := "written by 1.0.0"
		if i == 1 {
			body = "fail-health"
		}
		if n := notes(t, g, body); n.Version != "1.0.0" {
			t.Fatalf("guest %d answers %+v", i+1, n)
		}
	}
	t.Logf("three guests served v1 after %.1f s", time.Since(start).Seconds())

	start = time.Now()
	msg, code := run(t, env, "update", v2, "--to", strings.Join(to, ","), "--parallel", "1")
	t.Logf("the rollout took %.1f s, exit %d:\n%s", time.Since(start).Seconds(), code, msg)
	if code == 0 {
		t.Error("a rollout that stopped exited 0")
	}
	q := regexp.QuoteMeta
	for _, re := range []string{
		`(?m)^rollout  3 targets: the canary ` + q(to[0]) + ` alone, then 2 more, up to 1 at a time`,
		`(?m)^` + q(to[0]) + ` +committed version 1\.1\.0 in slot b after`,
		`(?m)^` + q(to[1]) + ` +rolled back: the health check /notes/health did not pass before the deadline \(answered 500\) \(after [\d.]+ s, back on version 1\.0\.0\)$`,
		`(?m)^` + q(to[2]) + ` +not updated: the rollout stopped at ` + q(to[1]) + `$`,
		`(?m)^TARGET +RESULT +VERSION NOW$`,
		`(?m)^` + q(to[0]) + ` +committed after [\d.]+ s +1\.1\.0$`,
		`(?m)^` + q(to[1]) + ` +rolled back: the health check /notes/health .* +1\.0\.0$`,
		`(?m)^` + q(to[2]) + ` +not updated +-$`,
		`the rollout stopped at ` + q(to[1]) + `: 1 of 3 committed, 1 failed, 1 not updated`,
	} {
		if !regexp.MustCompile(re).MatchString(msg) {
			t.Errorf("the rollout's output lacks %s", re)
		}
	}
	// The third got not a byte: no line of the rollout but "not updated".
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, to[2]+" ") && !strings.Contains(l, "not updated") {
			t.Errorf("the third guest was touched: %s", l)
		}
	}

	// What each guest runs now, and what it says.
	for i, want := range []note{{Version: "1.1.0", Note: "written by 1.0.0"}, {Version: "1.0.0", Note: "fail-health"}, {Version: "1.0.0", Note: "written by 1.0.0"}} {
		if n := notes(t, gs[i], ""); n.Version != want.Version || n.Note != want.Note {
			t.Errorf("guest %d answers %+v, want version %s and note %q", i+1, n, want.Version, want.Note)
		}
	}
	if !gs[0].Console.Contains("written to slot b") || gs[2].Console.Contains("written to slot") {
		t.Error("the canary's agent did not write the bundle, or the third's did")
	}
	msg, code = run(t, env, "update", "--to", strings.Join(to, ","), "--status")
	t.Logf("status of the three:\n%s", msg)
	blocks := strings.Split(msg, "\n\n")
	if code != 0 || len(blocks) != 3 {
		t.Fatalf("--status with three targets: exit %d, %d blocks", code, len(blocks))
	}
	for i, want := range []string{
		"version   1.1.0 in slot b (committed slot: b)\nprevious  1.0.0 in the other slot (--rollback boots it)\nlast      1.1.0 (from 1.0.0) in slot b: committed",
		"version   1.0.0 in slot a (committed slot: a)\nlast      1.1.0 (from 1.0.0) in slot b: rolled back at",
		"version   1.0.0 in slot a (committed slot: a)\n",
	} {
		if !strings.Contains(blocks[i], fmt.Sprintf("appliance http://%s\n", to[i])) || !strings.Contains(blocks[i], want) {
			t.Errorf("guest %d's status lacks %q:\n%s", i+1, want, blocks[i])
		}
	}
	if strings.Contains(blocks[2], "trial") || strings.Contains(blocks[2], "last") {
		t.Errorf("the third guest had a trial:\n%s", blocks[2])
	}
	for _, g := range gs {
		powerOff(t, g)
	}
}
