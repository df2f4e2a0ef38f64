package disk

import (
	"fmt"
	"strings"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/updater/slots"
)

// A Raspberry Pi 4 or 5 card (board.Disk.TryBoot) has A/B system slots
// the EEPROM bootloader switches between itself:
//
//	p1  FAT32, the smallest checked size: autoboot.txt and the trial marker
//	p2  slot a: a whole Pi boot partition (firmware where the board has
//	    it, device trees, overlays, config.txt, cmdline.txt, kernel,
//	    initramfs): slot.img
//	p3  slot b, the same size, empty until an update writes slot.img
//	p4  data (ext4)
//
// autoboot.txt boots p2, and p3 once after a reboot with the tryboot flag
// (see slots.TryBoot). Both slots hold the same bytes for the same system:
// the running slot is the firmware's chosen/bootloader/partition, so no
// cmdline.txt names it.

// tryBootContents are p1's files and a slot's files, and the slot's size.
func tryBootContents(s Spec) (boot, sys []bootFile, slotMiB int, err error) {
	if sys, err = piSlotFiles(s); err != nil {
		return nil, nil, 0, err
	}
	if slotMiB, err = bootSize(s.Board.Disk.SlotMiB, filesBytes(sys)); err != nil {
		return nil, nil, 0, err
	}
	lay, _ := plan(s.Board, s.Board.Disk.BootMiB, slotMiB, ids{})
	boot, err = autobootFiles(partitionNamed(lay, "slot-a").Index, partitionNamed(lay, "slot-b").Index)
	return boot, sys, slotMiB, err
}

// autobootFiles are p1's: autoboot.txt committing slot a, and the trial
// marker with nothing armed.
func autobootFiles(partA, partB int) ([]bootFile, error) {
	marker, err := slots.TrialBlock("", "")
	if err != nil {
		return nil, err
	}
	return []bootFile{
		{"/" + slots.AutobootFile, slots.Autoboot(partA, partB)},
		{"/" + slots.TrialFile, marker},
	}, nil
}

// piSlotFiles are a Pi slot's files, at its root.
func piSlotFiles(s Spec) ([]bootFile, error) {
	kernel, initrd, err := readSystem(s)
	if err != nil {
		return nil, err
	}
	files, err := piFiles(s, "/")
	if err != nil {
		return nil, err
	}
	files = append(files,
		bootFile{"/config.txt", []byte(SlotConfigTxt(s.Board.Disk))},
		bootFile{"/cmdline.txt", []byte(s.Cmdline + "\n")},
		bootFile{"/vmlinuz", kernel},
		bootFile{"/initrd.zst", initrd})
	sortFiles(files)
	return files, nil
}

// SlotConfigTxt is config.txt in a Pi slot: everything at the slot's root
// (no os_prefix; a Pi 5's firmware finds its device tree there).
func SlotConfigTxt(d board.Disk) string {
	lines := append([]string{"# written by mkimage"}, d.ConfigTxt...)
	lines = append(lines, "kernel=vmlinuz", "initramfs initrd.zst followkernel")
	return strings.Join(lines, "\n") + "\n"
}

// NoSlots says why b has no A/B system slots ("" when it has them).
func NoSlots(b board.Board) string {
	switch {
	case b.Disk.Layout == "":
		return "it boots only from kernel and initramfs (no disk image)"
	case b.Disk.Layout == board.LayoutRPi && !b.Disk.TryBoot:
		return "the firmware of the Pi 3 and the Zero 2 W has no A/B boot partitions (autoboot.txt and tryboot came with the Pi 4's EEPROM bootloader): use rpi4 or rpi5"
	case !hasSlots(b):
		return fmt.Sprintf("its disk layout %s has none", b.Disk.Layout)
	}
	return ""
}
