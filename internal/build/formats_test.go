package build

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiskFormats(t *testing.T) {
	if err := CheckDiskFormats([]string{"gz", "zip"}); err == nil || !strings.Contains(err.Error(), `"zip"`) {
		t.Errorf("unknown format: %v", err)
	}
	t.Run("no qemu-img", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		if err := CheckDiskFormats([]string{"qcow2"}); err == nil || !strings.Contains(err.Error(), "apt-get install qemu-utils") {
			t.Errorf("qcow2 without qemu-img: %v", err)
		}
	})
	dir := t.TempDir()
	raw := make([]byte, 3<<20)
	copy(raw[1<<20:], "some data in the middle")
	if err := os.WriteFile(filepath.Join(dir, DiskFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	name, err := encodeDisk(context.Background(), dir, FormatGzip)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(filepath.Join(dir, name))
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	f.Close()
	if !bytes.Equal(got, raw) || !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("disk.img.gz: %d bytes, mtime %v, name %q", len(got), zr.ModTime, zr.Name)
	}
	first, _ := os.ReadFile(filepath.Join(dir, name))
	encodeDisk(context.Background(), dir, FormatGzip)
	if second, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(first, second) {
		t.Error("gzip output is not reproducible")
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_QEMU") == "1" {
			t.Fatal("qemu-img is required (MKIMAGE_REQUIRE_QEMU=1) but missing")
		}
		t.Skip("qemu-img not installed")
	}
	name, err = encodeDisk(context.Background(), dir, FormatQCOW2)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "qcow2", filepath.Join(dir, DiskFile), filepath.Join(dir, name)).CombinedOutput(); err != nil {
		t.Errorf("qemu-img compare: %v %s", err, out)
	}
}
