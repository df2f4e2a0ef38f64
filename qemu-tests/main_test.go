package qemutests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var tool *Tool

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	src, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "mkimage-qemu-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if tool, err = BuildTool(src, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// needQEMU skips the test when QEMU is missing, unless the run requires it
// (CI sets MKIMAGE_REQUIRE_QEMU=1 so a boot test can never be skipped there).
func needQEMU(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_QEMU") == "1" {
			t.Fatal("qemu-system-x86_64 is required (MKIMAGE_REQUIRE_QEMU=1) but missing")
		}
		t.Skip("qemu-system-x86_64 not installed")
	}
}

func exampleConfig() string {
	return filepath.Join(tool.Src, "examples", "appliance", "appliance.toml")
}
