package flash

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// recheck runs after the confirmation, which may have taken any time: it
// refuses to write when the held target is no longer what was shown (its
// device number, size, model or serial changed, e.g. a loop device's
// capacity or another disk behind the same number) or when the path now
// names something else (another disk plugged in as the same /dev/sdX).
func (h *held) recheck(sys string) error {
	if h.create {
		return nil // created with O_EXCL: it cannot be something that appeared meanwhile
	}
	if err := h.changed(sys); err != nil {
		return fmt.Errorf("refusing to write: %s changed while waiting for the answer: %w; nothing was written", h.Path, err)
	}
	return nil
}

func (h *held) changed(sys string) error {
	fi, err := h.f.Stat()
	if err != nil {
		return fmt.Errorf("looking at the opened target: %w", err)
	}
	pi, err := os.Stat(h.Path)
	if err != nil {
		return fmt.Errorf("the path is gone: %w", err)
	}
	if !h.Block {
		if !os.SameFile(fi, pi) {
			return fmt.Errorf("the path now names another file")
		}
		return nil
	}
	var s unix.Stat_t
	if err := unix.Fstat(int(h.f.Fd()), &s); err != nil || uint64(s.Rdev) != h.Dev {
		return fmt.Errorf("the opened device is no longer %s (%v)", devString(h.Dev), err)
	}
	if err := unix.Stat(h.Path, &s); err != nil || s.Mode&unix.S_IFMT != unix.S_IFBLK || uint64(s.Rdev) != h.Dev {
		return fmt.Errorf("the path no longer names the device %s shown (%v)", devString(h.Dev), err)
	}
	size, err := unix.IoctlGetUint64(int(h.f.Fd()), unix.BLKGETSIZE64)
	if err != nil || int64(size) != h.Size {
		return fmt.Errorf("its size is now %s, was %s (%v)", human(int64(size)), human(h.Size), err)
	}
	real, err := sysDir(sys, h.Dev)
	if err != nil {
		return err
	}
	model, serial := sysIdentity(real, filepath.Base(real))
	if filepath.Base(real) != h.Name || model != h.Model || serial != h.Serial {
		return fmt.Errorf("it is now %s %q serial %q, was %s %q serial %q",
			filepath.Base(real), model, serial, h.Name, h.Model, h.Serial)
	}
	return nil
}
