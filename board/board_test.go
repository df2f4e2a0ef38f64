package board_test

import (
	"strings"
	"testing"

	"github.com/mkimage/mkimage/board"
)

// Every board says what its image has been proven on, and only claims a
// QEMU boot where it can be run under QEMU. A new board needs a row here:
// what a test in qemu-tests does with it.
func TestProven(t *testing.T) {
	want := map[string]string{
		"qemu-x86_64":  "QEMU boot (direct, BIOS, UEFI)",                     // boot_test, TestDiskPC
		"qemu-aarch64": "QEMU boot (direct, UEFI)",                           // TestDiskAarch64
		"rpi3":         "QEMU boot (raspi3b, direct kernel + SD card image)", // TestRaspberryPi3
		"rpizero2w":    "byte-level image check",                             // TestRPiZero2WImage
		"rpi4":         "byte-level image check (A/B slots, update bundle)",  // TestPiABImage/rpi4
		"rpi5":         "byte-level image check (A/B slots, update bundle)",  // TestPiABImage/rpi5
	}
	for _, b := range board.All() {
		if b.Proven == "" {
			t.Errorf("%s: Proven is empty", b.Name)
		}
		if w, ok := want[b.Name]; !ok {
			t.Errorf("%s: no row in this test (Proven %q)", b.Name, b.Proven)
		} else if b.Proven != w {
			t.Errorf("%s: Proven %q, want %q", b.Name, b.Proven, w)
		}
		if strings.HasPrefix(b.Proven, "QEMU") && b.QEMU.Binary == "" {
			t.Errorf("%s: claims %q without a QEMU machine", b.Name, b.Proven)
		}
		delete(want, b.Name)
	}
	for name := range want {
		t.Errorf("%s: in this test but not a board", name)
	}
}
