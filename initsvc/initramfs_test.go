package initsvc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckInitramfs(t *testing.T) {
	dir := t.TempDir()
	end := filepath.Join(dir, "initramfs-end")
	if err := checkInitramfs(end); !errors.Is(err, errInitramfsCut) {
		t.Errorf("without the last file: %v", err)
	}
	if err := os.WriteFile(end, []byte("9 records\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := checkInitramfs(end); err != nil {
		t.Errorf("with it: %v", err)
	}
}

func TestDescribeRoot(t *testing.T) {
	// The test's temporary directory is on whatever the host has; only
	// the read-only flag and /proc's type are certain.
	if got := describeRoot("/nonexistent-dir"); !strings.HasPrefix(got, "unknown (") {
		t.Errorf("a missing path: %q", got)
	}
	if got := describeRoot("/proc"); got != "file system 0x9fa0" {
		t.Errorf("/proc: %q", got)
	}
}

// TestBlockDevice names the host's root device the way the kernel does,
// as /proc/self/mountinfo's source for "/" shows it (when that is a
// /dev path), and none for /proc.
func TestBlockDevice(t *testing.T) {
	if got := blockDevice("/proc"); got != "" {
		t.Errorf("/proc is on %q, want none", got)
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(info), "\n") {
		f := strings.Fields(l)
		if len(f) < 10 || f[4] != "/" {
			continue
		}
		src := f[len(f)-2]
		if !strings.HasPrefix(src, "/dev/") {
			t.Skipf("the root is on %q", src)
		}
		real, err := filepath.EvalSymlinks(src)
		if err != nil {
			t.Skip(err)
		}
		if got, want := blockDevice("/"), strings.TrimPrefix(real, "/dev/"); got != want {
			t.Errorf("/ is on %q, want %q", got, want)
		}
	}
}
