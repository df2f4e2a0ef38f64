package initsvc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Securebits (linux/securebits.h). Set and locked, they make root and
// setuid exec grant nothing, and nothing can raise an ambient capability.
const (
	secNoRoot                  = 1 << 0
	secNoRootLocked            = 1 << 1
	secNoSetuidFixup           = 1 << 2
	secNoSetuidFixupLocked     = 1 << 3
	secKeepCapsLocked          = 1 << 5
	secNoCapAmbientRaise       = 1 << 6
	secNoCapAmbientRaiseLocked = 1 << 7

	lockedSecurebits = secNoRoot | secNoRootLocked | secNoSetuidFixup | secNoSetuidFixupLocked |
		secKeepCapsLocked | secNoCapAmbientRaise | secNoCapAmbientRaiseLocked
)

// dropPrivileges turns the calling thread, root with every capability,
// into uid (and the group of the same number, no supplementary groups)
// keeping only the capabilities in keep, for itself and for what it
// executes: the bounding set holds only keep, keep is ambient (so it
// survives exec without file capabilities), the securebits above are set
// and locked, and no_new_privs is on. Credentials are per thread: the
// caller must have locked its goroutine to the thread and exec from it.
func dropPrivileges(uid int, keep []int) error {
	if uid <= 0 {
		return fmt.Errorf("dropping privileges: uid %d is not an unprivileged user", uid)
	}
	var mask uint64
	for _, c := range keep {
		if c < 0 || c > 63 {
			return fmt.Errorf("dropping privileges: no capability %d", c)
		}
		mask |= 1 << c
	}
	if err := dropBounding(mask); err != nil {
		return err
	}
	// As root: keep becomes inheritable and ambient, then the securebits
	// lock; with NO_SETUID_FIXUP the UID change below leaves the
	// capabilities (ambient ones included) as they are.
	if err := capset(^uint64(0), mask); err != nil {
		return fmt.Errorf("making %#x inheritable: %w", mask, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing the ambient capabilities: %w", err)
	}
	for _, c := range keep {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raising ambient capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, lockedSecurebits, 0, 0, 0); err != nil {
		return fmt.Errorf("setting securebits %#x: %w", lockedSecurebits, err)
	}
	if err := setIDs(uid); err != nil {
		return err
	}
	if err := capset(mask, mask); err != nil {
		return fmt.Errorf("reducing the capabilities to %#x: %w", mask, err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	return nil
}

// dropBounding removes every capability not in keep from the bounding set;
// the kernel's last capability ends the loop (EINVAL beyond it).
func dropBounding(keep uint64) error {
	for c := 0; c < 64; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	return nil
}

// capset sets the thread's permitted and effective sets to pe and its
// inheritable set to inh.
func capset(pe, inh uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	for i := range data {
		shift := 32 * i
		p := uint32(pe >> shift)
		data[i].Permitted &= p
		data[i].Effective = data[i].Permitted
		data[i].Inheritable = uint32(inh>>shift) & data[i].Permitted
	}
	return unix.Capset(&hdr, &data[0])
}

// setIDs sets every UID and GID to uid and drops supplementary groups.
func setIDs(uid int) error {
	if err := unix.Setgroups(nil); err != nil {
		return fmt.Errorf("dropping supplementary groups: %w", err)
	}
	if err := unix.Setresgid(uid, uid, uid); err != nil {
		return fmt.Errorf("setting GID %d: %w", uid, err)
	}
	if err := unix.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setting UID %d: %w", uid, err)
	}
	return nil
}

// parseCaps reads a comma-separated list of capability numbers.
func parseCaps(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var caps []int
	for _, f := range strings.Split(s, ",") {
		c, err := strconv.Atoi(f)
		if err != nil || c < 0 || c > 63 {
			return nil, fmt.Errorf("bad capability %q", f)
		}
		caps = append(caps, c)
	}
	return caps, nil
}
