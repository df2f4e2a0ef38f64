package flash

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckFree refuses a block device that is in use: it, or one of its
// partitions, is mounted (which includes the running system's root), is
// swap, is a member of a mounted btrfs filesystem, or is held by another
// block device (device mapper, RAID). A mount is found by its device
// number, by the device its source names (mountinfo's number is an
// anonymous one for btrfs), and by btrfs's own list of member devices.
// The kernel's exclusive open refuses all of these as well; this check
// says which one it is.
func CheckFree(t Target, proc, sys string) error {
	m, err := membersOf(t, sys)
	if err != nil {
		return err
	}
	mi, err := os.ReadFile(filepath.Join(proc, "self/mountinfo"))
	if err != nil {
		return fmt.Errorf("cannot tell whether %s is mounted: %w", t.Path, err)
	}
	for _, mt := range parseMountinfo(string(mi)) {
		if name, ok := m.match(mt.Dev, mt.Source); ok {
			what := "mounted on " + mt.Point
			if mt.Point == "/" {
				what = "holds the running system (mounted on /)"
			}
			return fmt.Errorf("refusing %s: /dev/%s is %s", t.Path, name, what)
		}
	}
	if err := checkBtrfs(t, m, sys); err != nil {
		return err
	}
	return checkSwaps(t, m, proc)
}

// members are the disk and its partitions, by device number and by name.
type members struct {
	byDev  map[string]string // "8:18" → "sdb2"
	byName map[string]bool
}

// membersOf lists the disk and its partitions from sysfs, refusing any of
// them that another block device holds.
func membersOf(t Target, sys string) (members, error) {
	m := members{byDev: map[string]string{devString(t.Dev): t.Name}, byName: map[string]bool{t.Name: true}}
	base := filepath.Join(sys, "class/block", t.Name)
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(base, e.Name(), "partition")); err != nil {
			continue
		}
		m.byName[e.Name()] = true
		if b, err := os.ReadFile(filepath.Join(base, e.Name(), "dev")); err == nil {
			m.byDev[strings.TrimSpace(string(b))] = e.Name()
		}
		if h, _ := os.ReadDir(filepath.Join(base, e.Name(), "holders")); len(h) > 0 {
			return m, fmt.Errorf("refusing %s: its partition %s is used by %s", t.Path, e.Name(), h[0].Name())
		}
	}
	if h, _ := os.ReadDir(filepath.Join(base, "holders")); len(h) > 0 {
		return m, fmt.Errorf("refusing %s: it is used by %s", t.Path, h[0].Name())
	}
	return m, nil
}

// match names the member a mount or swap entry is on: by its device number
// dev ("" if none), else by the device its source path names, resolved
// through symlinks (/dev/disk/by-uuid/...) to a kernel name or a device
// number.
func (m members) match(dev, source string) (string, bool) {
	if name, ok := m.byDev[dev]; ok {
		return name, true
	}
	if !strings.HasPrefix(source, "/") {
		return "", false
	}
	p := source
	if r, err := filepath.EvalSymlinks(source); err == nil {
		p = r
	}
	if filepath.Dir(p) == "/dev" && m.byName[filepath.Base(p)] {
		return filepath.Base(p), true
	}
	var s unix.Stat_t
	if unix.Stat(p, &s) == nil && s.Mode&unix.S_IFMT == unix.S_IFBLK {
		name, ok := m.byDev[devString(uint64(s.Rdev))]
		return name, ok
	}
	return "", false
}

// checkBtrfs refuses a member listed in /sys/fs/btrfs/UUID/devices: a
// mounted btrfs filesystem spanning several devices shows only one of them
// in mountinfo.
func checkBtrfs(t Target, m members, sys string) error {
	fss, _ := os.ReadDir(filepath.Join(sys, "fs/btrfs"))
	for _, fs := range fss {
		devs, _ := os.ReadDir(filepath.Join(sys, "fs/btrfs", fs.Name(), "devices"))
		for _, d := range devs {
			if m.byName[d.Name()] {
				return fmt.Errorf("refusing %s: /dev/%s is part of the mounted btrfs filesystem %s", t.Path, d.Name(), fs.Name())
			}
		}
	}
	return nil
}

// checkSwaps refuses a member that /proc/swaps lists.
func checkSwaps(t Target, m members, proc string) error {
	swaps, _ := os.ReadFile(filepath.Join(proc, "swaps"))
	lines := strings.Split(string(swaps), "\n")
	for _, line := range lines[min(1, len(lines)):] {
		// The kernel escapes space, tab, newline and backslash in the name.
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) == 0 {
			continue
		}
		if name, ok := m.match("", unescapeOctal(f[0])); ok {
			return fmt.Errorf("refusing %s: /dev/%s is swap", t.Path, name)
		}
	}
	return nil
}

func devString(dev uint64) string {
	return fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
}
