package board_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/disk"
)

// Every board's disk and QEMU boot values are from the small sets the code
// handles.
func TestBoardDiskValues(t *testing.T) {
	for _, b := range board.All() {
		d := b.Disk
		switch d.Layout {
		case board.LayoutPC, board.LayoutUEFI:
			if d.EFIArch != "x64" && d.EFIArch != "aa64" {
				t.Errorf("%s: EFIArch %q", b.Name, d.EFIArch)
			}
		case board.LayoutRPi:
			if len(d.DTBs) == 0 {
				t.Errorf("%s: a Pi needs device trees", b.Name)
				continue
			}
			// A Pi 5 (BCM2712) boots from its EEPROM; earlier Pis need
			// bootcode.bin or start*.elf on the card.
			eeprom := strings.HasPrefix(d.DTBs[0], "bcm2712")
			if eeprom != (len(d.Firmware) == 0) {
				t.Errorf("%s: firmware files %v for device trees %v", b.Name, d.Firmware, d.DTBs)
			}
		case "":
			continue
		default:
			t.Errorf("%s: unknown layout %q", b.Name, d.Layout)
		}
		if err := disk.CheckFATSize(d.BootMiB); err != nil {
			t.Errorf("%s: %v", b.Name, err)
		}
		if d.DataMiB < 16 {
			t.Errorf("%s: data partition of %d MiB", b.Name, d.DataMiB)
		}
		for _, m := range b.QEMU.Boot.Modes {
			if !slices.Contains([]string{board.BootDirect, board.BootBIOS, board.BootUEFI}, m) {
				t.Errorf("%s: boot mode %q", b.Name, m)
			}
			if m == board.BootUEFI && (b.QEMU.Boot.UEFICode == "" || b.QEMU.Boot.UEFIVars == "" || b.QEMU.Boot.UEFIPackage == "") {
				t.Errorf("%s: UEFI boot without firmware paths", b.Name)
			}
			if m == board.BootBIOS && d.Layout != board.LayoutPC {
				t.Errorf("%s: BIOS boot of a %q disk", b.Name, d.Layout)
			}
		}
	}
}
