package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/pgzip"
)

// CheckDiskFormats validates a list of disk image encodings.
func CheckDiskFormats(formats []string) error {
	for _, f := range formats {
		switch f {
		case FormatGzip:
		case FormatQCOW2:
			if _, err := exec.LookPath("qemu-img"); err != nil {
				return errors.New("the qcow2 format needs qemu-img (Debian: apt-get install qemu-utils)")
			}
		default:
			return fmt.Errorf("disk format %q: use %s or %s (raw .img is always written)", f, FormatGzip, FormatQCOW2)
		}
	}
	return nil
}

// encodeDisk writes disk.img in another format beside it and returns the
// new file's name.
func encodeDisk(ctx context.Context, dir, format string) (string, error) {
	raw := filepath.Join(dir, DiskFile)
	switch format {
	case FormatGzip:
		name := DiskFile + ".gz"
		return name, gzipFile(raw, filepath.Join(dir, name))
	case FormatQCOW2:
		name := strings.TrimSuffix(DiskFile, ".img") + ".qcow2"
		cmd := exec.CommandContext(ctx, "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, filepath.Join(dir, name))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return "", errors.New("the qcow2 format needs qemu-img (Debian: apt-get install qemu-utils)")
			}
			return "", fmt.Errorf("qemu-img convert: %w: %s", err, strings.TrimSpace(out.String()))
		}
		return name, nil
	}
	return "", fmt.Errorf("unknown disk format %q", format)
}

// gzipFile compresses src to dst without a name or time in the header, so
// the output is reproducible.
func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw, err := pgzip.NewWriterLevel(out, pgzip.BestSpeed)
	if err != nil {
		out.Close()
		return err
	}
	zw.ModTime = time.Unix(0, 0) // "no time" (pgzip would encode the zero time.Time)
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return fmt.Errorf("compressing the disk image: %w", err)
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return fmt.Errorf("compressing the disk image: %w", err)
	}
	return out.Close()
}
