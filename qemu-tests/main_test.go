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
func needQEMU(t *testing.T) { t.Helper(); needQEMUBinary(t, "qemu-system-x86_64") }

func needQEMUBinary(t *testing.T, bin string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_QEMU") == "1" {
			t.Fatalf("%s is required (MKIMAGE_REQUIRE_QEMU=1) but missing", bin)
		}
		t.Skipf("%s not installed", bin)
	}
}

// needEnv returns the variable ./do test sets for a boot test; the test is
// skipped without it, unless the run requires every boot test.
func needEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("MKIMAGE_REQUIRE_QEMU") == "1" {
			t.Fatalf("%s is not set (./do test sets it)", name)
		}
		t.Skipf("%s not set", name)
	}
	return v
}

func exampleConfig() string {
	return filepath.Join(tool.Src, "examples", "appliance", "appliance.toml")
}
