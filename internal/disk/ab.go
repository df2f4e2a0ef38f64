package disk

import "github.com/mkimage/mkimage/board"

// SlotFile is the slot image written beside disk.img: a FAT filesystem
// holding vmlinuz and initrd.zst, exactly one slot partition in size. The
// disk image holds it in slot a; an update bundle carries it to slot b.
const SlotFile = "slot.img"

// EnvPath is GRUB's environment block on the boot partition (ESP).
const EnvPath = "/grub/grubenv"

// AB says where a board's disk keeps its two system slots and their boot
// state: GRUB boots from partition BootPart (the ESP), reads EnvPath there,
// and loads slot "a" or "b" from the partition Slots names.
type AB struct {
	BootPart  int
	EnvPath   string
	Slots     map[string]int
	SlotBytes int64
}

// ABOf returns b's A/B layout; ok is false for a board without one (no
// disk image, or a Raspberry Pi, whose slots are not done yet).
func ABOf(b board.Board) (ab AB, ok bool) {
	if b.Disk.Layout != board.LayoutPC && b.Disk.Layout != board.LayoutUEFI {
		return AB{}, false
	}
	lay, _ := plan(b, b.Disk.BootMiB, b.Disk.SlotMiB, ids{})
	ab = AB{EnvPath: EnvPath, Slots: map[string]int{}}
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
