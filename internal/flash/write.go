package flash

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sys/unix"
)

// copyBuf is the one buffer a flash uses for writing and reading back.
const copyBuf = 4 << 20

// prepare makes the held target ready to be written after the
// confirmation: a new file is created (O_EXCL: nothing that appeared at the
// path meanwhile is overwritten), an existing one is emptied.
func (h *held) prepare() error {
	if h.create {
		f, err := os.OpenFile(h.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("creating %s: %w", h.Path, err)
		}
		h.f = f
		return nil
	}
	if !h.Block {
		if err := h.f.Truncate(0); err != nil {
			return fmt.Errorf("emptying %s: %w", h.Path, err)
		}
	}
	return nil
}

// errPastEnd stops a write that would go past the end of the device.
var errPastEnd = errors.New("the image goes on past the end of the device")

// limitWriter writes to f from offset 0 and refuses, before writing it, a
// write that would end past limit (none when negative).
type limitWriter struct {
	f     *os.File
	off   int64
	limit int64
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.limit >= 0 && w.off+int64(len(p)) > w.limit {
		return 0, errPastEnd
	}
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// write copies the image to the held target with a progress bar, never past
// the end of a device, syncs, and returns the SHA-256 of what it wrote.
func write(src io.Reader, size int64, h *held, out io.Writer, buf []byte) (string, int64, error) {
	limit := int64(-1)
	if h.Block {
		limit = h.Size
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(out), progressbar.OptionSetDescription("writing"),
		progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200_000_000), progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }))
	sum := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(&limitWriter{f: h.f, limit: limit}, sum, bar), src, buf)
	if errors.Is(err, errPastEnd) {
		return "", n, fmt.Errorf("writing %s: stopped after %d bytes, the image grew after it was measured: %w; "+
			"the device holds a partial image", h.Path, n, err)
	}
	if err != nil {
		return "", n, fmt.Errorf("writing %s after %d bytes: %w", h.Path, n, err)
	}
	_ = bar.Finish()
	fmt.Fprintf(out, "syncing %s\n", h.Path)
	if err := h.f.Sync(); err != nil {
		return "", n, fmt.Errorf("syncing %s: %w", h.Path, err)
	}
	if h.Block {
		// Let the kernel see the new partition table.
		_ = unix.IoctlSetInt(int(h.f.Fd()), unix.BLKRRPART, 0)
	}
	return hex.EncodeToString(sum.Sum(nil)), n, nil
}

// readBack hashes the first n bytes of the held target, after dropping them
// from the page cache so the bytes come from the device.
func readBack(h *held, n int64, buf []byte) (string, error) {
	fd := int(h.f.Fd())
	_ = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	if h.Block {
		_ = unix.IoctlSetInt(fd, unix.BLKFLSBUF, 0)
	}
	sum := sha256.New()
	if _, err := io.CopyBuffer(sum, io.NewSectionReader(h.f, 0, n), buf); err != nil {
		return "", fmt.Errorf("reading %s back: %w", h.Path, err)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}
