package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// holeChunk is the unit sparsify checks and frees: a multiple of every
// file system's block size that matters here.
const holeChunk = 64 << 10

// sparsify frees the all-zero 64 KiB chunks of file (go-diskfs writes
// whole FATs and zeroed regions), so that the image uses on disk about
// what it holds; its bytes stay the same. Where the file system cannot
// punch holes it leaves the file as it is.
func sparsify(file string) error {
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("making %s sparse: %w", file, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("making %s sparse: %w", file, err)
	}
	zero := make([]byte, holeChunk)
	buf := make([]byte, holeChunk)
	for off := int64(0); off < st.Size(); off += holeChunk {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only holes from here on
		}
		if err != nil {
			return nil // no SEEK_DATA here: leave the file dense
		}
		off = data / holeChunk * holeChunk
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("making %s sparse: %w", file, err)
		}
		if n == holeChunk && bytes.Equal(buf, zero) {
			err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, holeChunk)
			if errors.Is(err, unix.EOPNOTSUPP) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("making %s sparse: %w", file, err)
			}
		}
	}
	return nil
}
