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
