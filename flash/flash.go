// Package flash writes a disk image to a device (an SD card, a USB disk, a
// loop device) or a regular file, the last step of build → boot → flash.
// It refuses a device that is mounted, used as swap or by another block
// device (LVM, RAID, dm-crypt), or that holds the running system; shows the
// device's model and size and asks before writing; writes with a progress
// bar; syncs; then reads the device back and compares SHA-256 sums.
package flash

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sys/unix"
)

// Options tune one flash.
type Options struct {
	// Yes skips the confirmation.
	Yes bool
	// In answers the confirmation; Out gets messages and the progress bar.
	In  io.Reader
	Out io.Writer
	// Interactive says In is a terminal: without Yes, a non-interactive
	// run refuses instead of reading a confirmation from a pipe.
	Interactive bool
	// Proc is the proc filesystem (tests point it elsewhere).
	Proc string
	// Sys is the sysfs root.
	Sys string
}

// Target describes the device or file written to.
type Target struct {
	Path  string
	Block bool
	Name  string // kernel name, e.g. sdb (block devices)
	Model string
	Size  int64
	Dev   uint64 // device number (block devices)
}

// Flash writes image (a raw .img, or .img.gz) to target.
func Flash(image, target string, o Options) error {
	if o.Proc == "" {
		o.Proc = "/proc"
	}
	if o.Sys == "" {
		o.Sys = "/sys"
	}
	if st, err := os.Stat(image); err == nil && st.IsDir() {
		image = filepath.Join(image, "disk.img")
	}
	src, size, err := openImage(image)
	if err != nil {
		return err
	}
	defer src.Close()
	t, err := Inspect(target, o.Sys)
	if err != nil {
		return err
	}
	if err := sameFile(image, target); err != nil {
		return err
	}
	if t.Block {
		if err := CheckFree(t, o.Proc, o.Sys); err != nil {
			return err
		}
		if size > t.Size {
			return fmt.Errorf("the image (%s) is larger than %s (%s)", human(size), t.Path, human(t.Size))
		}
	}
	fmt.Fprintf(o.Out, "image:  %s (%s)\n", image, human(size))
	if t.Block {
		fmt.Fprintf(o.Out, "target: %s, %s, %s — EVERYTHING ON IT WILL BE LOST\n", t.Path, orUnknown(t.Model), human(t.Size))
	} else {
		fmt.Fprintf(o.Out, "target: %s (regular file, overwritten)\n", t.Path)
	}
	if !o.Yes {
		if !o.Interactive {
			return errors.New("not asking without a terminal: add --yes to write anyway")
		}
		fmt.Fprintf(o.Out, "Type yes to write: ")
		line, _ := bufio.NewReader(o.In).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			return errors.New("not confirmed; nothing was written")
		}
	}
	sum, n, err := write(src, size, t, o.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "verifying %s\n", human(n))
	back, err := readBack(t.Path, n)
	if err != nil {
		return fmt.Errorf("reading %s back: %w", t.Path, err)
	}
	if back != sum {
		return fmt.Errorf("verification failed: wrote sha256 %s but read back %s", sum, back)
	}
	fmt.Fprintf(o.Out, "done: %s written and verified (sha256 %s)\n", human(n), sum)
	return nil
}

// openImage opens a raw image or an .img.gz (decompressed on the fly).
// size is the raw size.
func openImage(p string) (io.ReadCloser, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, fmt.Errorf("opening the image: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !strings.HasSuffix(p, ".gz") {
		return f, st.Size(), nil
	}
	// gzip's trailer holds the raw size modulo 4 GiB.
	tail := make([]byte, 4)
	if _, err := f.ReadAt(tail, st.Size()-4); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("reading %s: %w", p, err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("reading %s: %w", p, err)
	}
	size := int64(uint32(tail[0]) | uint32(tail[1])<<8 | uint32(tail[2])<<16 | uint32(tail[3])<<24)
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, size, nil
}

// Inspect describes the target path: a block device (whole disk only) or
// a regular file (which need not exist yet).
func Inspect(p, sys string) (Target, error) {
	t := Target{Path: p}
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return t, err
	}
	switch {
	case st.Mode().IsRegular():
		t.Size = st.Size()
		return t, nil
	case st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
	default:
		return t, fmt.Errorf("%s is neither a block device nor a regular file", p)
	}
	var s unix.Stat_t
	if err := unix.Stat(p, &s); err != nil {
		return t, err
	}
	t.Block, t.Dev = true, uint64(s.Rdev)
	dir := filepath.Join(sys, "dev/block", fmt.Sprintf("%d:%d", unix.Major(t.Dev), unix.Minor(t.Dev)))
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return t, fmt.Errorf("%s: no sysfs entry: %w", p, err)
	}
	t.Name = filepath.Base(real)
	if _, err := os.Stat(filepath.Join(real, "partition")); err == nil {
		return t, fmt.Errorf("%s is a partition of %s: give the whole device (/dev/%s)", p, filepath.Base(filepath.Dir(real)), filepath.Base(filepath.Dir(real)))
	}
	t.Size = readInt(filepath.Join(real, "size")) * 512
	var model []string
	for _, f := range []string{"device/vendor", "device/model", "device/name"} {
		if b, err := os.ReadFile(filepath.Join(real, f)); err == nil && len(bytes.TrimSpace(b)) > 0 {
			model = append(model, string(bytes.TrimSpace(b)))
		}
	}
	if len(model) == 0 && strings.HasPrefix(t.Name, "loop") {
		if b, err := os.ReadFile(filepath.Join(real, "loop/backing_file")); err == nil {
			model = append(model, "loop device backed by "+strings.TrimSpace(string(b)))
		}
	}
	t.Model = strings.Join(model, " ")
	return t, nil
}

// CheckFree refuses a block device that is in use: it, or one of its
// partitions, is mounted (which includes the running system's root), is
// swap, or is held by another block device (device mapper, RAID).
func CheckFree(t Target, proc, sys string) error {
	devs := map[string]string{fmt.Sprintf("%d:%d", unix.Major(t.Dev), unix.Minor(t.Dev)): t.Name}
	base := filepath.Join(sys, "class/block", t.Name)
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(base, e.Name(), "partition")); err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(base, e.Name(), "dev")); err == nil {
			devs[strings.TrimSpace(string(b))] = e.Name()
		}
		if h, _ := os.ReadDir(filepath.Join(base, e.Name(), "holders")); len(h) > 0 {
			return fmt.Errorf("refusing %s: its partition %s is used by %s", t.Path, e.Name(), h[0].Name())
		}
	}
	if h, _ := os.ReadDir(filepath.Join(base, "holders")); len(h) > 0 {
		return fmt.Errorf("refusing %s: it is used by %s", t.Path, h[0].Name())
	}
	mi, err := os.ReadFile(filepath.Join(proc, "self/mountinfo"))
	if err != nil {
		return fmt.Errorf("cannot tell whether %s is mounted: %w", t.Path, err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if name, ok := devs[f[2]]; ok {
			what := "mounted on " + f[4]
			if f[4] == "/" {
				what = "holds the running system (mounted on /)"
			}
			return fmt.Errorf("refusing %s: /dev/%s is %s", t.Path, name, what)
		}
	}
	swaps, _ := os.ReadFile(filepath.Join(proc, "swaps"))
	for _, line := range strings.Split(string(swaps), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var s unix.Stat_t
		if unix.Stat(f[0], &s) == nil && s.Mode&unix.S_IFMT == unix.S_IFBLK {
			if name, ok := devs[fmt.Sprintf("%d:%d", unix.Major(uint64(s.Rdev)), unix.Minor(uint64(s.Rdev)))]; ok {
				return fmt.Errorf("refusing %s: /dev/%s is swap", t.Path, name)
			}
		}
	}
	return nil
}

func sameFile(a, b string) error {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	if err1 == nil && err2 == nil && os.SameFile(sa, sb) {
		return fmt.Errorf("%s is the image itself", b)
	}
	return nil
}

// write copies the image to the target with a progress bar, syncs, and
// returns the SHA-256 of what it wrote.
func write(src io.Reader, size int64, t Target, out io.Writer) (string, int64, error) {
	flags := os.O_WRONLY
	if t.Block {
		// O_EXCL on a block device: the kernel refuses it while mounted.
		flags |= unix.O_EXCL
	} else {
		flags |= os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(t.Path, flags, 0o644)
	if err != nil {
		return "", 0, fmt.Errorf("opening %s for writing: %w", t.Path, err)
	}
	defer f.Close()
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(out), progressbar.OptionSetDescription("writing"),
		progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200_000_000), progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }))
	h := sha256.New()
	buf := make([]byte, 4<<20)
	n, err := io.CopyBuffer(io.MultiWriter(f, h, bar), src, buf)
	if err != nil {
		return "", n, fmt.Errorf("writing %s: %w", t.Path, err)
	}
	_ = bar.Finish()
	fmt.Fprintf(out, "syncing %s\n", t.Path)
	if err := f.Sync(); err != nil {
		return "", n, fmt.Errorf("syncing %s: %w", t.Path, err)
	}
	if t.Block {
		// Let the kernel see the new partition table.
		_ = unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// readBack hashes the first n bytes of the target, after dropping them
// from the page cache so the bytes come from the device.
func readBack(p string, n int64) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	_ = unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0)
	h := sha256.New()
	if _, err := io.CopyN(h, f, n); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readInt(p string) int64 {
	b, _ := os.ReadFile(p)
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown model"
	}
	return s
}
