package initsvc

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// errInitramfsCut: the kernel did not unpack the whole initramfs.
var errInitramfsCut = errors.New("the initramfs was not unpacked to its end (the kernel ran out of memory while unpacking it, or the archive is cut short): files are missing; give the machine more RAM")

// checkInitramfs looks for the archive's last file (spec.InitramfsEndPath
// at path), which the build always writes.
func checkInitramfs(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w (%s: %v)", errInitramfsCut, path, err)
	}
	return nil
}

// File system magic numbers (statfs's f_type) of the roots an image has.
const (
	ramfsMagic    = 0x858458f6
	tmpfsMagic    = 0x01021994
	squashfsMagic = 0x73717368
)

// describeRoot says what the root file system at path is: an initramfs
// unpacked into RAM (ramfs, tmpfs), or a read-only squashfs (the small
// kernel's) and its device: ram0 (copied from the initrd) or dm-0 (mapped
// from a disk's slot).
func describeRoot(path string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	var kind string
	switch uint32(st.Type) {
	case ramfsMagic:
		kind = "ramfs"
	case tmpfsMagic:
		kind = "tmpfs"
	case squashfsMagic:
		kind = "squashfs"
	default:
		kind = fmt.Sprintf("file system 0x%x", uint32(st.Type))
	}
	if dev := blockDevice(path); dev != "" {
		kind += " on " + dev
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		return kind + ", read-only"
	}
	return kind
}

// blockDevice names the block device the file system at path is on, as
// the kernel does (ram0, dm-0, vda2), or "" for one on none (ramfs, tmpfs,
// proc: major 0) or when sysfs does not say.
func blockDevice(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || unix.Major(st.Dev) == 0 {
		return ""
	}
	uevent, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/uevent", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(uevent), "\n") {
		if name, ok := strings.CutPrefix(l, "DEVNAME="); ok {
			return name
		}
	}
	return ""
}
