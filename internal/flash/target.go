package flash

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Target describes the device or file written to.
type Target struct {
	Path   string
	Block  bool
	Name   string // kernel name, e.g. sdb (block devices)
	Model  string
	Serial string // serial, WWID, MMC CID, or a loop device's backing file
	Size   int64
	Dev    uint64 // device number (block devices)
}

// held is the target, open from the checks to the end of the write so
// that what was checked and shown is what gets written, whatever the path
// names meanwhile. A block device is opened exclusively (O_EXCL): the
// kernel refuses it while mounted, swap or held, and nobody can mount it
// while flash holds it. A file that does not exist yet has no descriptor
// until it is created, after the confirmation.
type held struct {
	Target
	f      *os.File
	create bool
}

// errBusy is the kernel's refusal of the exclusive open.
var errBusy = errors.New("in use")

// openTarget opens and describes the target. A path that does not exist
// is refused under /dev and otherwise created later, after the prompt.
func openTarget(p, sys string) (*held, error) {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if err := refuseMissingDev(p); err != nil {
			return nil, err
		}
		return &held{Target: Target{Path: p}, create: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking at the target %s: %w", p, err)
	}
	flags := os.O_RDWR
	switch {
	case st.Mode().IsRegular():
	case st.Mode()&fs.ModeDevice != 0 && st.Mode()&fs.ModeCharDevice == 0:
		flags |= unix.O_EXCL
	default:
		return nil, fmt.Errorf("%s is neither a block device nor a regular file", p)
	}
	f, err := os.OpenFile(p, flags, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("opening %s exclusively: %w (%w)", p, errBusy, err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	h := &held{Target: Target{Path: p}, f: f}
	err = h.describe(sys)
	if err == nil && h.Block != (flags&unix.O_EXCL != 0) {
		err = fmt.Errorf("%s changed from a file to a device or back while being opened", p)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return h, nil
}

// refuseMissingDev refuses a path that does not exist under /dev: opening
// it would create a file in RAM (devtmpfs) instead of writing a disk.
func refuseMissingDev(p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return fmt.Errorf("resolving the target %s: %w", p, err)
	}
	dir := filepath.Dir(abs)
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	if underDev(abs) || underDev(dir) {
		return fmt.Errorf("%s does not exist: under /dev flash writes only to an existing whole device "+
			"(such as /dev/sdb or /dev/mmcblk0, see lsblk) and never creates a file there", p)
	}
	return nil
}

func underDev(p string) bool { return p == "/dev" || strings.HasPrefix(p, "/dev/") }

// describe fills in the target from the held descriptor.
func (h *held) describe(sys string) error {
	var s unix.Stat_t
	if err := unix.Fstat(int(h.f.Fd()), &s); err != nil {
		return fmt.Errorf("looking at the opened %s: %w", h.Path, err)
	}
	switch s.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		h.Size = s.Size
		return nil
	case unix.S_IFBLK:
	default:
		return fmt.Errorf("%s is neither a block device nor a regular file", h.Path)
	}
	h.Block, h.Dev = true, uint64(s.Rdev)
	size, err := unix.IoctlGetUint64(int(h.f.Fd()), unix.BLKGETSIZE64)
	if err != nil {
		return fmt.Errorf("reading the size of %s: %w", h.Path, err)
	}
	h.Size = int64(size)
	real, err := sysDir(sys, h.Dev)
	if err != nil {
		return fmt.Errorf("%s: %w", h.Path, err)
	}
	h.Name = filepath.Base(real)
	if _, err := os.Stat(filepath.Join(real, "partition")); err == nil {
		disk := filepath.Base(filepath.Dir(real))
		return fmt.Errorf("%s is a partition of %s: give the whole device (/dev/%s)", h.Path, disk, disk)
	}
	h.Model, h.Serial = sysIdentity(real, h.Name)
	return nil
}

// sysDir is the device's directory in sysfs.
func sysDir(sys string, dev uint64) (string, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(sys, "dev/block", devString(dev)))
	if err != nil {
		return "", fmt.Errorf("no sysfs entry for the device %s: %w", devString(dev), err)
	}
	return real, nil
}

// sysIdentity reads the model and what tells this disk from another of the
// same model: a serial number or WWID where the driver exposes one (SCSI/USB,
// NVMe, virtio, MMC's CID), a loop device's backing file.
func sysIdentity(dir, name string) (model, serial string) {
	var parts []string
	for _, f := range []string{"device/vendor", "device/model", "device/name"} {
		if s := readTrim(filepath.Join(dir, f)); s != "" {
			parts = append(parts, s)
		}
	}
	model = strings.Join(parts, " ")
	for _, f := range []string{"wwid", "device/wwid", "serial", "device/serial", "device/cid"} {
		if s := readTrim(filepath.Join(dir, f)); s != "" {
			return model, s
		}
	}
	if strings.HasPrefix(name, "loop") {
		if s := readTrim(filepath.Join(dir, "loop/backing_file")); s != "" && model == "" {
			return "loop device backed by " + s, s
		}
	}
	return model, ""
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return string(bytes.TrimSpace(b))
}
