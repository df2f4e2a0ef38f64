// Package flash writes a disk image to a device (an SD card, a USB disk, a
// loop device) or a regular file, the last step of build → boot → flash.
//
// It opens the target once, before any check, and writes through that
// descriptor: a block device exclusively (O_EXCL), which the kernel refuses
// while it is mounted, swap or held by LVM/RAID/dm-crypt, and which keeps
// anyone from mounting it until flash is done. It also refuses a partition,
// a device that holds the running system, and an image larger than the
// device (a .gz is decompressed to measure it); shows the device's model,
// size and serial and asks before writing; after the answer checks that the
// device and the path are still what was shown; writes with a progress
// bar; syncs; then reads the device back and compares SHA-256 sums.
//
// A target that does not exist is refused under /dev (opening it would
// create a file in RAM) and created elsewhere.
package flash

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
	im, err := openImage(image)
	if err != nil {
		return err
	}
	defer im.Close()
	h, err := open(target, im, o)
	if err != nil {
		return err
	}
	defer h.close()
	size, err := measure(im, h, o.Out)
	if err != nil {
		return err
	}
	show(o.Out, image, size, h.Target, h.create)
	if err := confirm(o); err != nil {
		return err
	}
	if err := h.recheck(o.Sys); err != nil {
		return err
	}
	if err := h.prepare(); err != nil {
		return err
	}
	return writeVerify(im, size, h, o.Out)
}

// open opens and checks the target: not the image itself, not in use.
func open(target string, im *img, o Options) (*held, error) {
	h, err := openTarget(target, o.Sys)
	if errors.Is(err, errBusy) {
		return nil, explainBusy(target, o, err)
	}
	if err != nil {
		return nil, err
	}
	if err := h.check(im, o); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

func (h *held) check(im *img, o Options) error {
	if h.f != nil {
		a, err1 := im.f.Stat()
		b, err2 := h.f.Stat()
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return fmt.Errorf("%s is the image itself", h.Path)
		}
	}
	if h.Block {
		return CheckFree(h.Target, o.Proc, o.Sys)
	}
	return nil
}

func (h *held) close() {
	if h.f != nil {
		h.f.Close()
	}
}

// explainBusy says why the kernel refused the exclusive open, when the
// mount, swap and holder checks can tell.
func explainBusy(target string, o Options, busy error) error {
	var s unix.Stat_t
	if unix.Stat(target, &s) == nil && s.Mode&unix.S_IFMT == unix.S_IFBLK {
		if real, err := sysDir(o.Sys, uint64(s.Rdev)); err == nil {
			t := Target{Path: target, Block: true, Name: filepath.Base(real), Dev: uint64(s.Rdev)}
			if err := CheckFree(t, o.Proc, o.Sys); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("refusing %s: the kernel reports it in use (mounted, swap, held by LVM/RAID/dm-crypt, "+
		"or open exclusively by another program): %w", target, busy)
}

// measure returns the image's raw size, refusing an image larger than a
// device (without decompressing more of a .gz than the device holds).
func measure(im *img, h *held, out io.Writer) (int64, error) {
	limit := int64(-1)
	if h.Block {
		limit = h.Size
	}
	if im.gz {
		fmt.Fprintf(out, "measuring %s (decompressing it)\n", im.path)
	}
	size, over, err := im.measure(limit)
	if err != nil {
		return 0, err
	}
	if over {
		what := human(size)
		if im.gz {
			what = "more than " + human(h.Size) + " decompressed"
		}
		return 0, fmt.Errorf("the image (%s) is larger than %s (%s); nothing was written",
			what, h.Path, human(h.Size))
	}
	return size, nil
}

func show(out io.Writer, image string, size int64, t Target, create bool) {
	fmt.Fprintf(out, "image:  %s (%s)\n", image, human(size))
	switch {
	case t.Block:
		serial := ""
		if t.Serial != "" && !strings.Contains(t.Model, t.Serial) {
			serial = ", serial " + t.Serial
		}
		fmt.Fprintf(out, "target: %s (/dev/%s), %s, %s%s — EVERYTHING ON IT WILL BE LOST\n",
			t.Path, t.Name, orUnknown(t.Model), human(t.Size), serial)
	case create:
		fmt.Fprintf(out, "target: %s (new file)\n", t.Path)
	default:
		fmt.Fprintf(out, "target: %s (regular file, overwritten)\n", t.Path)
	}
}

func confirm(o Options) error {
	if o.Yes {
		return nil
	}
	if !o.Interactive {
		return errors.New("not asking without a terminal: add --yes to write anyway")
	}
	fmt.Fprintf(o.Out, "Type yes to write: ")
	line, _ := bufio.NewReader(o.In).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("not confirmed; nothing was written")
	}
	return nil
}

// writeVerify writes, then reads back through the same descriptor.
func writeVerify(im *img, size int64, h *held, out io.Writer) error {
	src, err := im.reader()
	if err != nil {
		return err
	}
	buf := make([]byte, copyBuf)
	sum, n, err := write(src, size, h, out, buf)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("the image changed while being written: measured %d bytes, wrote %d", size, n)
	}
	fmt.Fprintf(out, "verifying %s\n", human(n))
	back, err := readBack(h, n, buf)
	if err != nil {
		return err
	}
	if back != sum {
		return fmt.Errorf("verification failed: wrote sha256 %s but read back %s", sum, back)
	}
	fmt.Fprintf(out, "done: %s written and verified (sha256 %s)\n", human(n), sum)
	return nil
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
