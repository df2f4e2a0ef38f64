package disk

import (
	"fmt"
	"os"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/kernel"
)

// MapsRoot reports whether b's disk can boot a squashfs root from its slot
// partition (Spec.MapRoot): GRUB's A/B layouts, where the slot's
// cmdline.cfg gives the kernel the map. A Pi's firmware loads the initrd
// itself, so a Pi keeps the root in its slot as the initrd.
func MapsRoot(b board.Board) bool { return hasSlots(b) && !b.Disk.TryBoot }

// slotRoot is the squashfs root in a slot image: data at byte offset, a
// MiB boundary just past the slot's FAT filesystem.
type slotRoot struct {
	offset int64
	data   []byte
}

// writeTo puts the root at its offset of the image file at path and makes
// the file size bytes long.
func (r *slotRoot) writeTo(path string, size int64) error {
	if r.offset+int64(len(r.data)) > size {
		return fmt.Errorf("the root (%d bytes at %d) does not fit %d bytes", len(r.data), r.offset, size)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(r.data, r.offset)
	if err == nil {
		err = f.Truncate(size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the root: %w", err)
	}
	return nil
}

// slotPartUUID is the GRUB variable grub.cfg sets to the PARTUUID of the
// slot partition it boots (probe --part-uuid), which a slot's
// cmdline.cfg names as the root's device: the same slot image serves in
// slot a or b, on any disk name (vda, sda, nvme0n1).
const slotPartUUID = "slot_partuuid"

// mappedSlotFiles are a slot's files with the root mapped: the kernel and
// cmdline.cfg, which sets args (the command line, the root arguments
// included) and rootmap (dm-mod.create, one word for grub.cfg to quote);
// the root, after the smallest checked FAT size that holds those; and
// the slot's size: the board's, or what it takes to hold both.
func mappedSlotFiles(s Spec) (files []bootFile, root *slotRoot, slotMiB int, err error) {
	kern, data, err := readSystem(s)
	if err != nil {
		return nil, nil, 0, err
	}
	fatMiB, err := bootSize(FATSizes[0], int64(len(kern))+2*4096)
	if err != nil {
		return nil, nil, 0, err
	}
	root = &slotRoot{offset: int64(fatMiB) * mib, data: data}
	args, create := kernel.MappedRootCmdline(int64(len(data)), root.offset, "PARTUUID=${"+slotPartUUID+"}")
	cfg, err := cmdlineCfg(s.Cmdline+" "+args,
		fmt.Sprintf("# The root: %d bytes of squashfs at byte %d of this partition, which the kernel maps (device mapper).", len(data), root.offset),
		"set rootmap=\""+create+"\"")
	if err != nil {
		return nil, nil, 0, err
	}
	need := (root.offset + int64(len(data)) + mib - 1) / mib
	slotMiB = max(s.Board.Disk.SlotMiB, int(need))
	return []bootFile{{"/cmdline.cfg", cfg}, {"/vmlinuz", kern}}, root, slotMiB, nil
}
