package disk

import (
	"fmt"
	"strings"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater/slots"
)

// SlotFile is the slot image written beside disk.img: a FAT filesystem
// holding vmlinuz, initrd.zst and cmdline.cfg (on a Pi 4 or 5 a whole
// boot partition), or with Spec.MapRoot vmlinuz and cmdline.cfg, the
// squashfs root after the FAT; exactly one slot partition in size. The disk image
// holds it in slot a; an update bundle carries it to slot b.
const SlotFile = "slot.img"

// EnvPath is GRUB's environment block on the boot partition (ESP).
const EnvPath = "/grub/grubenv"

// AutobootPath is a Pi's autoboot.txt on its first partition.
const AutobootPath = "/" + slots.AutobootFile

// AB says where a board's disk keeps its two system slots and their boot
// state: GRUB boots from partition BootPart (the ESP), reads EnvPath there,
// and loads slot "a" or "b" from the partition Slots names; or a Pi's
// firmware reads autoboot.txt (EnvPath) from BootPart and boots the slot's
// partition itself. Loader is spec.LoaderTryBoot for the Pi, "" for GRUB
// (init.json of a PC or UEFI disk stays as it was before Loader).
type AB struct {
	BootPart  int
	EnvPath   string
	Slots     map[string]int
	SlotBytes int64
	Loader    string
}

// ABOf returns b's A/B layout; ok is false for a board without one (no
// disk image, or a Pi 3 or Zero 2 W: NoSlots says why).
func ABOf(b board.Board) (ab AB, ok bool) {
	if !hasSlots(b) {
		return AB{}, false
	}
	lay, _ := plan(b, b.Disk.BootMiB, b.Disk.SlotMiB, ids{})
	ab = AB{EnvPath: EnvPath, Slots: map[string]int{}}
	if b.Disk.TryBoot {
		ab.EnvPath, ab.Loader = AutobootPath, spec.LoaderTryBoot
	}
	for _, p := range lay.Partitions {
		switch p.Name {
		case "boot":
			ab.BootPart = p.Index
		case "slot-a", "slot-b":
			ab.Slots[p.Name[len("slot-"):]] = p.Index
			ab.SlotBytes = p.Size
		}
	}
	return ab, len(ab.Slots) == 2
}

// Describe says in words how b's disk image is laid out, before the
// system's size is known: the boot partition is at least the board's size
// (a larger system makes it larger) and the data partition grows to the
// disk's end at first boot.
func Describe(b board.Board) string {
	if b.Disk.Layout == "" {
		return "none (this board boots only from kernel and initramfs)"
	}
	lay, _ := plan(b, b.Disk.BootMiB, b.Disk.SlotMiB, ids{})
	var parts []string
	for _, p := range lay.Partitions {
		size := fmt.Sprintf("%d MiB", p.Size/mib)
		switch {
		case p.Name == "boot" && !hasSlots(b), strings.HasPrefix(p.Name, "slot-"):
			size = "at least " + size
		case p.Name == DataPartName:
			size += ", grown to the disk's end at first boot"
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s, %s)", p.Index, p.Name, p.Type, size))
	}
	return lay.Table + ": " + strings.Join(parts, "; ")
}

// BootIndex is the number (1-based) of the boot partition in b's layout,
// which GRUB's BIOS core image names in its prefix.
func BootIndex(b board.Board) int {
	lay, _ := plan(b, 1, 1, ids{})
	for _, p := range lay.Partitions {
		if p.Name == "boot" {
			return p.Index
		}
	}
	return 0
}
