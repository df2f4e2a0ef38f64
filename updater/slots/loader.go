package slots

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mkimage/mkimage/spec"
)

// Loader is a boot loader's A/B state, the same to init and the agent
// whichever loader keeps it: GRUB's environment block (PC and UEFI disks)
// or the Raspberry Pi firmware's autoboot.txt (TryBoot).
type Loader interface {
	// State reads the state: the committed slot, a trial armed for the
	// next boot, a slot booted as a trial and not yet judged.
	State() (BootState, error)
	// Arm makes the next boot, and only the next, a trial of slot.
	Arm(slot string) error
	// Commit makes slot the one booted from now on and ends the trial.
	Commit(slot string) error
	// Forget clears a judged trial (the committed slot stays).
	Forget() error
	// RebootArg is reboot(2)'s argument that the boot after Arm needs
	// ("": a plain restart).
	RebootArg() (string, error)
}

// NewLoader returns the loader u names, its files on the boot partition
// mounted at mount.
func NewLoader(u spec.Update, mount string) Loader {
	if u.Loader == spec.LoaderTryBoot {
		return TryBoot{Dir: mount, Slots: u.Slots}
	}
	return GRUBEnv{Path: filepath.Join(mount, u.EnvPath)}
}

// RebootArg is "": GRUB reads the armed trial from its environment block.
func (GRUBEnv) RebootArg() (string, error) { return "", nil }

// State reads autoboot.txt, the marker and the device tree. A tryboot is
// the trial of the slot it runs; otherwise a marker armed by this boot is
// a trial armed for the next, and one armed by an earlier boot names the
// trial that failed (its boot reset, or it was never a tryboot). A marker
// naming the committed slot is a commit cut off before it cleared it.
func (t TryBoot) State() (BootState, error) {
	normal, _, err := t.autoboot()
	if err != nil {
		return BootState{}, err
	}
	committed, err := t.slotOf(normal)
	if err != nil {
		return BootState{}, fmt.Errorf("autoboot.txt: %w", err)
	}
	st := BootState{Committed: committed}
	try, err := t.Tried()
	if err != nil {
		return st, err
	}
	if try {
		st.Tried, err = t.Running()
		return st, err
	}
	slot, boot, err := t.marker()
	if err != nil || slot == "" || slot == committed {
		return st, err
	}
	id, err := t.bootID()
	if boot == id {
		st.Trial = slot
	} else {
		st.Tried = slot
	}
	return st, err
}

// Arm points autoboot.txt's [tryboot] at slot (it already does, unless the
// file was edited) and writes the marker; the reboot must pass TryBootArg.
func (t TryBoot) Arm(slot string) error {
	normal, try, err := t.autoboot()
	if err != nil {
		return err
	}
	p, ok := t.Slots[slot]
	switch {
	case !ok:
		return fmt.Errorf("arming a trial: no slot %q", slot)
	case p == normal:
		return fmt.Errorf("arming a trial of slot %s: it is the committed slot", slot)
	case p != try:
		if err := writeInPlace(filepath.Join(t.Dir, AutobootFile), Autoboot(normal, p)); err != nil {
			return err
		}
	}
	id, err := t.bootID()
	if err != nil {
		return err
	}
	return t.setMarker(slot, id)
}

// Commit rewrites autoboot.txt to boot slot (the other one on a tryboot),
// then clears the marker.
func (t TryBoot) Commit(slot string) error {
	p, ok := t.Slots[slot]
	if !ok {
		return fmt.Errorf("committing: no slot %q", slot)
	}
	normal, try, err := t.autoboot()
	if err != nil {
		return err
	}
	if q := t.Slots[t.other(slot)]; normal != p || try != q {
		if err := writeInPlace(filepath.Join(t.Dir, AutobootFile), Autoboot(p, q)); err != nil {
			return err
		}
	}
	return t.Forget()
}

// Forget clears the marker.
func (t TryBoot) Forget() error {
	if slot, _, err := t.marker(); err == nil && slot == "" {
		return nil
	}
	return t.setMarker("", "")
}

// RebootArg is TryBootArg while this boot armed a trial.
func (t TryBoot) RebootArg() (string, error) {
	st, err := t.State()
	if err != nil || st.Trial == "" {
		return "", err
	}
	return TryBootArg, nil
}

func (t TryBoot) setMarker(slot, boot string) error {
	b, err := TrialBlock(slot, boot)
	if err != nil {
		return err
	}
	return writeInPlace(filepath.Join(t.Dir, TrialFile), b)
}

// writeInPlace rewrites the file at path with b, which is as long as the
// file, from its first byte, and syncs it: the file keeps its clusters, so
// a power cut leaves the old sector or the new one.
func writeInPlace(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("writing the boot state: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("writing the boot state %s: %w", path, err)
	}
	if st.Size() != int64(len(b)) {
		return fmt.Errorf("writing the boot state %s: it is %d bytes, the new state %d (an edited file: the rewrite would move it)", path, st.Size(), len(b))
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("writing the boot state %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the boot state %s: %w", path, err)
	}
	return nil
}

var (
	_ Loader = GRUBEnv{}
	_ Loader = TryBoot{}
)
