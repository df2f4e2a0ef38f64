package slots

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/spec"
)

// pi is a Pi 4 or 5 as the update code sees it: p1 mounted at tb.Dir, the
// firmware's device tree at tb.DT, and a boot counter for the boot id.
type pi struct {
	t    *testing.T
	tb   TryBoot
	boot int
}

func newPi(t *testing.T) *pi {
	t.Helper()
	p := &pi{t: t, tb: TryBoot{Dir: t.TempDir(), DT: t.TempDir(), Slots: map[string]int{"a": 2, "b": 3}}}
	marker, err := TrialBlock("", "")
	if err != nil {
		t.Fatal(err)
	}
	p.write(AutobootFile, Autoboot(2, 3))
	p.write(TrialFile, marker)
	p.power(false)
	return p
}

func (p *pi) write(name string, b []byte) {
	p.t.Helper()
	if err := os.WriteFile(filepath.Join(p.tb.Dir, name), b, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pi) read(name string) string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.tb.Dir, name))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

// power boots the machine the way the EEPROM bootloader does: autoboot.txt's
// [all] partition, or once its [tryboot] one when the flag is set.
func (p *pi) power(tryboot bool) {
	p.t.Helper()
	normal, try, err := ParseAutoboot([]byte(p.read(AutobootFile)))
	if err != nil {
		p.t.Fatal(err)
	}
	part, flag := normal, uint32(0)
	if tryboot {
		part, flag = try, 1
	}
	for name, v := range map[string]uint32{"partition": uint32(part), "tryboot": flag} {
		if err := os.WriteFile(filepath.Join(p.tb.DT, name), binary.BigEndian.AppendUint32(nil, v), 0o444); err != nil {
			p.t.Fatal(err)
		}
	}
	p.boot++
	p.tb.Boot = "boot-" + strconv.Itoa(p.boot)
}

// reboot is init's reboot: the argument RebootArg asks for.
func (p *pi) reboot() {
	p.t.Helper()
	arg, err := p.tb.RebootArg()
	if err != nil {
		p.t.Fatal(err)
	}
	p.power(arg == TryBootArg)
}

// atBoot is what init reads at boot: the slot running, trial, failed.
func (p *pi) atBoot() string {
	p.t.Helper()
	running, err := p.tb.Running()
	if err != nil {
		p.t.Fatal(err)
	}
	st, err := p.tb.State()
	if err != nil {
		p.t.Fatal(err)
	}
	trial, failed := AtBoot(running, st)
	return "running " + running + " committed " + st.Committed + " trial " + strconv.FormatBool(trial) + " failed " + failed
}

func (p *pi) do(step string) {
	p.t.Helper()
	var err error
	switch step {
	case "arm a", "arm b":
		err = p.tb.Arm(step[4:])
	case "commit a", "commit b":
		err = p.tb.Commit(step[7:])
	case "forget":
		err = p.tb.Forget()
	case "reboot":
		p.reboot()
	case "reset", "power cut":
		p.power(false)
	case "autoboot only": // a commit cut off after autoboot.txt
		p.write(AutobootFile, Autoboot(3, 2))
	default:
		p.t.Fatalf("step %q", step)
	}
	if err != nil {
		p.t.Fatalf("%s: %v", step, err)
	}
}

// The update flows on a Pi, with the firmware modelled: each step, then
// what init reads at the next boot (or the state, when no boot follows).
func TestTryBootFlows(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps []string
		want  string
		boot  []int // autoboot.txt's partitions at the end
	}{
		{"fresh card", nil, "running a committed a trial false failed ", []int{2, 3}},
		{"armed: a tryboot next", []string{"arm b"}, "running a committed a trial false failed ", []int{2, 3}},
		{"the trial boot", []string{"arm b", "reboot"}, "running b committed a trial true failed ", []int{2, 3}},
		{"trial committed", []string{"arm b", "reboot", "commit b"}, "running b committed b trial false failed ", []int{3, 2}},
		{"committed, rebooted", []string{"arm b", "reboot", "commit b", "reboot"}, "running b committed b trial false failed ", []int{3, 2}},
		{"the verdict failed it", []string{"arm b", "reboot", "reboot"}, "running a committed a trial false failed b", []int{2, 3}},
		{"hang: the watchdog reset", []string{"arm b", "reboot", "reset"}, "running a committed a trial false failed b", []int{2, 3}},
		{"failure recorded", []string{"arm b", "reboot", "reset", "forget"}, "running a committed a trial false failed ", []int{2, 3}},
		{"power cut before the reboot", []string{"arm b", "power cut"}, "running a committed a trial false failed b", []int{2, 3}},
		{"power cut: commit not written", []string{"arm b", "reboot", "power cut"}, "running a committed a trial false failed b", []int{2, 3}},
		{"power cut: marker not cleared", []string{"arm b", "reboot", "autoboot only", "power cut"}, "running b committed b trial false failed ", []int{3, 2}},
		{"back to a (the other order)", []string{"arm b", "reboot", "commit b", "reboot", "arm a", "reboot", "commit a", "reboot"}, "running a committed a trial false failed ", []int{2, 3}},
		{"trial of a fails, b stays", []string{"arm b", "reboot", "commit b", "reboot", "arm a", "reboot", "reset"}, "running b committed b trial false failed a", []int{3, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPi(t)
			before := len(p.read(AutobootFile))
			for _, s := range c.steps {
				p.do(s)
			}
			if got := p.atBoot(); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
			if got := p.read(AutobootFile); got != string(Autoboot(c.boot[0], c.boot[1])) || len(got) != before {
				t.Errorf("autoboot.txt %q (%d bytes, was %d)", got, len(got), before)
			}
			if n := len(p.read(TrialFile)); n != TrialSize {
				t.Errorf("the marker is %d bytes", n)
			}
		})
	}
}

// Arm's state before the reboot: a trial armed for the next boot, which
// needs the tryboot argument; nothing armed needs none.
func TestTryBootArm(t *testing.T) {
	p := newPi(t)
	if arg, err := p.tb.RebootArg(); arg != "" || err != nil {
		t.Errorf("nothing armed: %q %v", arg, err)
	}
	p.do("arm b")
	st, err := p.tb.State()
	if err != nil || st != (BootState{Committed: "a", Trial: "b"}) {
		t.Errorf("armed: %+v %v", st, err)
	}
	if arg, _ := p.tb.RebootArg(); arg != "0 tryboot" {
		t.Errorf("reboot argument %q", arg)
	}
	if !strings.Contains(p.read(TrialFile), "\nslot=b\nboot=boot-1\n") {
		t.Errorf("marker %q", p.read(TrialFile))
	}
	for _, slot := range []string{"a", "c"} {
		if err := p.tb.Arm(slot); err == nil {
			t.Errorf("arming %s worked", slot)
		}
	}
	// An autoboot.txt whose [tryboot] names the committed slot is pointed
	// at the slot armed.
	p.write(AutobootFile, Autoboot(2, 2))
	p.do("arm b")
	if got := p.read(AutobootFile); got != string(Autoboot(2, 3)) {
		t.Errorf("autoboot.txt %q", got)
	}
}

// A file the guest would have to move is left alone: an edited
// autoboot.txt of another length fails the commit (the trial rolls back).
func TestTryBootEditedFile(t *testing.T) {
	p := newPi(t)
	p.do("arm b")
	p.do("reboot")
	edited := "# mine\n" + string(Autoboot(2, 3))
	p.write(AutobootFile, []byte(edited))
	if err := p.tb.Commit("b"); err == nil || !strings.Contains(err.Error(), "edited") {
		t.Errorf("commit: %v", err)
	}
	if p.read(AutobootFile) != edited {
		t.Error("the edited file was written")
	}
}

func TestParseAutoboot(t *testing.T) {
	for _, c := range []struct {
		text        string
		normal, try int
		err         bool
	}{
		{string(Autoboot(2, 3)), 2, 3, false},
		{string(Autoboot(3, 2)), 3, 2, false},
		{"tryboot_a_b=1\nboot_partition=3\n[none]\nboot_partition=9\n[tryboot]\n boot_partition = 2 \n", 3, 2, false},
		{"[all]\nboot_partition=2\n", 0, 0, true},
		{"[all]\nboot_partition=x\n[tryboot]\nboot_partition=3\n", 0, 0, true},
	} {
		n, tr, err := ParseAutoboot([]byte(c.text))
		if n != c.normal || tr != c.try || (err != nil) != c.err {
			t.Errorf("%q: %d %d %v", c.text, n, tr, err)
		}
	}
}

// The device tree: no tryboot property is no tryboot; a partition that
// holds no slot, or a property of the wrong size, is an error.
func TestTryBootDeviceTree(t *testing.T) {
	p := newPi(t)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(p.tb.DT, "tryboot")))
	if st, err := p.tb.State(); err != nil || st.Tried != "" {
		t.Errorf("without tryboot: %+v %v", st, err)
	}
	must(os.WriteFile(filepath.Join(p.tb.DT, "partition"), []byte{0, 0, 0, 4}, 0o644))
	if _, err := p.tb.Running(); err == nil {
		t.Error("partition 4 is a slot")
	}
	must(os.WriteFile(filepath.Join(p.tb.DT, "partition"), []byte{2}, 0o644))
	if _, err := p.tb.Running(); err == nil {
		t.Error("a 1-byte partition property was read")
	}
}

func TestNewLoader(t *testing.T) {
	u := spec.Update{EnvPath: "/grub/grubenv", Slots: map[string]int{"a": 3, "b": 4}}
	if l, ok := NewLoader(u, "/run/boot").(GRUBEnv); !ok || l.Path != "/run/boot/grub/grubenv" {
		t.Errorf("GRUB: %#v", l)
	}
	if arg, err := (GRUBEnv{}).RebootArg(); arg != "" || err != nil {
		t.Errorf("GRUB's reboot argument %q %v", arg, err)
	}
	u.Loader, u.EnvPath, u.Slots = spec.LoaderTryBoot, "/autoboot.txt", map[string]int{"a": 2, "b": 3}
	if l, ok := NewLoader(u, "/run/boot").(TryBoot); !ok || l.Dir != "/run/boot" || l.Slots["b"] != 3 {
		t.Errorf("tryboot: %#v", l)
	}
}
