package initsvc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
)

type mount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// mounts lists the kernel filesystems, in order. devtmpfs is not mounted by
// the kernel for an initramfs, so init does it. Every tmpfs is bounded in
// bytes and inodes: it lives in RAM that cannot be swapped or reclaimed, and
// /tmp and /dev/shm are writable by the app, which must not be able to
// starve the front end and init of memory (a tmpfs's default is half of
// RAM each). Apps keep larger data in $DATA_DIR.
var mounts = []mount{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=620,ptmxmode=666"},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777,size=5%,nr_inodes=1024"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755,size=4m,nr_inodes=4096"},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777,size=10%,nr_inodes=4096"},
}

func mountAll() error {
	var errs []error
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("creating %s: %w", m.target, err))
			continue
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			errs = append(errs, fmt.Errorf("mounting %s on %s: %w", m.fstype, m.target, err))
		}
	}
	return errors.Join(errs...)
}

// unmountAll unmounts in reverse order, read-only remount as fallback; the
// initramfs root itself stays.
func unmountAll() {
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i].target, 0); err != nil {
			_ = unix.Mount("", mounts[i].target, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
		}
	}
}

// loadModules runs /bin/modload, which loads kernel modules by name with
// their dependencies.
func loadModules(names []string) error {
	out, err := exec.Command(spec.BinDir+"/modload", names...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
