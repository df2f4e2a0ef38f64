package disk

import (
	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater/slots"
)

// SlotFile is the slot image written beside disk.img: a FAT filesystem
// holding vmlinuz and initrd.zst, exactly one slot partition in size. The
// disk image holds it in slot a; an update bundle carries it to slot b.
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
