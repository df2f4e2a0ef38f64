package slots

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The variables of the boot loader's A/B state in GRUB's environment
// block. grub.cfg (written by the build) boots "committed", or once "trial":
// it clears "trial" and sets "tried" with save_env before booting it, so
// any failure after that (panic, hang, reset, power cut) boots "committed".
const (
	envCommitted = "committed"
	envTrial     = "trial"
	envTried     = "tried"
)

// BootState is the boot loader's A/B state.
type BootState struct {
	Committed string // the slot booted unless a trial is armed
	Trial     string // armed for the next boot only ("" when none)
	Tried     string // the slot GRUB booted as a trial, until judged
}

// GRUBEnv keeps the state in the environment block at Path (grubenv on
// the mounted ESP). Writes rewrite the file's 1024 bytes in place and sync
// them: the file never moves, so GRUB (which also writes in place) and a
// power cut see either the old block or the new one sector by sector.
type GRUBEnv struct{ Path string }

// State reads the block.
func (g GRUBEnv) State() (BootState, error) {
	e, err := g.read()
	if err != nil {
		return BootState{}, err
	}
	return BootState{Committed: e.Get(envCommitted), Trial: e.Get(envTrial), Tried: e.Get(envTried)}, nil
}

// Arm makes the next boot, and only the next, a trial of slot.
func (g GRUBEnv) Arm(slot string) error {
	return g.update(func(e *Env) { e.Set(envTrial, slot) })
}

// Commit makes slot the one booted from now on and ends the trial.
func (g GRUBEnv) Commit(slot string) error {
	return g.update(func(e *Env) {
		e.Set(envCommitted, slot)
		e.Set(envTrial, "")
		e.Set(envTried, "")
	})
}

// Forget clears a judged trial (the committed slot stays).
func (g GRUBEnv) Forget() error {
	return g.update(func(e *Env) {
		e.Set(envTrial, "")
		e.Set(envTried, "")
	})
}

func (g GRUBEnv) read() (Env, error) {
	b, err := os.ReadFile(g.Path)
	if err != nil {
		return Env{}, fmt.Errorf("reading the boot state: %w", err)
	}
	e, err := ParseEnv(b)
	if err != nil {
		return e, fmt.Errorf("reading the boot state %s: %w", g.Path, err)
	}
	return e, nil
}

func (g GRUBEnv) update(change func(*Env)) error {
	e, err := g.read()
	if err != nil {
		return err
	}
	change(&e)
	b, err := e.Format()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(g.Path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("writing the boot state: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("writing the boot state %s: %w", g.Path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the boot state %s: %w", g.Path, err)
	}
	return nil
}

// AtBoot reads what the state means for the running slot: whether this
// boot is a trial to judge, and which slot's trial failed before this
// boot (GRUB tried it, nobody committed it, and we run another slot).
func AtBoot(running string, st BootState) (trial bool, failed string) {
	switch {
	case st.Tried == running && st.Committed != running:
		return true, ""
	case st.Tried != "" && st.Tried != running:
		return false, st.Tried
	}
	return false, ""
}

// PartitionDev finds partition n of disk in sysfs ("vda", 3 -> /dev/vda3;
// "mmcblk0", 2 -> /dev/mmcblk0p2).
func PartitionDev(disk string, n int) (string, error) {
	parts, _ := filepath.Glob(filepath.Join("/sys/class/block", disk, "*", "partition"))
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(n) {
			return "/dev/" + filepath.Base(filepath.Dir(p)), nil
		}
	}
	return "", fmt.Errorf("disk %s has no partition %d", disk, n)
}

// PartitionBytes is a partition's size from sysfs (512-byte sectors).
func PartitionBytes(dev string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(dev), "size"))
	if err != nil {
		return 0, fmt.Errorf("reading the size of %s: %w", dev, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the size of %s: %w", dev, err)
	}
	return n * 512, nil
}
