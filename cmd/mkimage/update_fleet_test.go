package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/spec"
)

var (
	committed  = spec.UpdateStatus{Version: "1.1.0", Slot: "b", Committed: "b"}
	rolledBack = spec.UpdateStatus{Version: "1.0.0", Slot: "a", Committed: "a",
		Last: &spec.TrialResult{Slot: "b", Version: "1.1.0", From: "1.0.0", Result: spec.TrialRolledBack, Reason: "the health check /notes/health did not pass before the deadline (answered 500)"}}
)

// A rollout over fake appliances: the canary first, then the rest; the
// first failure stops it, leaving the ones after it untouched, and the
// table says what became of each.
func TestUpdateFleet(t *testing.T) {
	keyPath, pub := signingKey(t)
	dir := updateImage(t, "1.1.0", true, 0)
	for _, c := range []struct {
		name     string
		after    []spec.UpdateStatus // per appliance; Version "2.0.0": it runs 2.0.0 and refuses
		parallel string
		touched  []bool
		lines    []string // regexps, in the output
		err      string
	}{
		{"all committed", []spec.UpdateStatus{committed, committed, committed, committed}, "2",
			[]bool{true, true, true, true},
			[]string{`(?m)^rollout  4 targets: the canary A alone, then 3 more, up to 2 at a time`,
				`(?m)^A +sending  .* to http://A$`,
				`(?m)^B +appliance version 1\.1\.0 is in slot b; rebooting into it for a trial`,
				`(?m)^C +waiting  for the appliance to reboot into 1\.1\.0`,
				`(?m)^D +committed version 1\.1\.0 in slot b after`,
				`(?m)^TARGET +RESULT +VERSION NOW$`,
				`(?m)^D +committed after \d+\.\d s +1\.1\.0$`}, ""},
		{"the second rolls back", []spec.UpdateStatus{committed, rolledBack, committed}, "1",
			[]bool{true, true, false},
			[]string{`(?m)^B +rolled back: the health check /notes/health did not pass before the deadline \(answered 500\) \(after \d+\.\d s, back on version 1\.0\.0\)$`,
				`(?m)^C +not updated: the rollout stopped at B$`,
				`(?m)^A +committed after \d+\.\d s +1\.1\.0$`,
				`(?m)^B +rolled back: the health check .* +1\.0\.0$`,
				`(?m)^C +not updated +-$`}, "the rollout stopped at B: 1 of 3 committed, 1 failed, 1 not updated"},
		{"the canary refuses", []spec.UpdateStatus{{Version: "2.0.0"}, committed, committed}, "2",
			[]bool{true, false, false},
			[]string{`(?m)^A +refused: bundle does not apply to this system: the bundle's version 1\.1\.0 is older than the running version 2\.0\.0 .* \(after \d+\.\d s\)$`,
				`(?m)^B +not updated: the rollout stopped at A$`,
				`(?m)^A +refused: .* +2\.0\.0$`}, "the rollout stopped at A: 0 of 3 committed, 1 failed, 2 not updated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var apps []*fakeAppliance
			var to []string
			for _, after := range c.after {
				a, host := newFakeAppliance(t, pub, after)
				if after.Version == "2.0.0" {
					a.Receiver.Running.Version = "2.0.0"
					a.after = spec.UpdateStatus{Version: "2.0.0", Slot: "a", Committed: "a"}
					a.installed = true
					a.down = 0
				}
				apps = append(apps, a)
				to = append(to, host)
			}
			text, err := update(t, dir, "--to", strings.Join(to, ","), "--key", keyPath, "--parallel", c.parallel)
			msg := fmt.Sprint(err)
			for i, h := range to {
				text = strings.ReplaceAll(text, h, string(rune('A'+i)))
				msg = strings.ReplaceAll(msg, h, string(rune('A'+i)))
			}
			if c.err == "" && err != nil || c.err != "" && !strings.Contains(msg, c.err) {
				t.Errorf("err = %v, want %q", msg, c.err)
			}
			for _, l := range c.lines {
				if !regexp.MustCompile(l).MatchString(text) {
					t.Errorf("output lacks %s:\n%s", l, text)
				}
			}
			for i, a := range apps {
				a.mu.Lock()
				touched := a.hits > 0
				a.mu.Unlock()
				if touched != c.touched[i] {
					t.Errorf("appliance %d touched: %v, want %v", i, touched, c.touched[i])
				}
			}
		})
	}
}

// --to @FILE reads the targets; --status asks each.
func TestUpdateFleetFileAndStatus(t *testing.T) {
	_, pub := signingKey(t)
	_, h1 := newFakeAppliance(t, pub, committed)
	_, h2 := newFakeAppliance(t, pub, committed)
	file := filepath.Join(t.TempDir(), "fleet")
	os.WriteFile(file, []byte(fmt.Sprintf("# the fleet\n%s\n\n%s # the second\n", h1, h2)), 0o644)
	text, err := update(t, "--to", "@"+file, "--status")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"appliance http://" + h1 + "\nversion   1.0.0 in slot a", "\n\nappliance http://" + h2 + "\nversion   1.0.0 in slot a"} {
		if !strings.Contains(text, w) {
			t.Errorf("status lacks %q:\n%s", w, text)
		}
	}
	text, err = update(t, "--to", h1+",127.0.0.1:1", "--status")
	if err == nil || !strings.Contains(err.Error(), "no status from 127.0.0.1:1") || !strings.Contains(text, "appliance 127.0.0.1:1\nerror     ") {
		t.Errorf("a target that does not answer: %v\n%s", err, text)
	}
}

// Mistakes in any target are refused before anything is built or sent.
func TestUpdateFleetArgs(t *testing.T) {
	good := updateImage(t, "1.1.0", true, 0)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{good, "--to", "a,b", "--no-wait"}, "--no-wait takes one target"},
		{[]string{good, "--to", "a,b", "--parallel", "0"}, "want at least 1"},
		{[]string{good, "--to", "a,b,a"}, "named twice"},
		{[]string{good, "--to", "a,,b"}, "an empty target"},
		{[]string{good, "--to", "a,b,c:port"}, "not a number"},
		{[]string{good, "--to", "@" + filepath.Join(t.TempDir(), "none")}, "reading the targets"},
		{[]string{"--status", "--to", "a,b:x"}, "not a number"},
		{[]string{good, "--to", "127.0.0.1:1,127.0.0.1:4711,http://127.0.0.1:1"}, "127.0.0.1:1 and http://127.0.0.1:1 are the same appliance"},
	} {
		if _, err := update(t, append(c.args, "--key", filepath.Join(t.TempDir(), "no.key"))...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("update %q: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
