package disk

import (
	"context"
	"fmt"
	"io"
	"os"

	diskfs "github.com/diskfs/go-diskfs"
)

// slotLabel is the FAT volume label of a system slot.
const slotLabel = "MKIMAGE-SYS"

// slotImage is what a slot image holds: files in a FAT filesystem, and
// with MapRoot the root after it; size bytes in all.
type slotImage struct {
	size  int64
	files []bootFile
	root  *slotRoot
}

// writeSlot writes a slot's image to path: what slot a of the disk holds
// and what an update writes to the other slot. GRUB reads its FAT
// filesystem; the kernel maps the root behind it.
func writeSlot(ctx context.Context, path string, si slotImage, id ids, epoch uint64) error {
	if path == "" {
		return fmt.Errorf("no path for the slot image")
	}
	_ = os.Remove(path)
	fatSize := si.size
	if si.root != nil {
		fatSize = si.root.offset
	}
	img, err := diskfs.Create(path, fatSize, diskfs.SectorSizeDefault)
	if err != nil {
		return fmt.Errorf("creating the slot image %s: %w", path, err)
	}
	err = writeFAT(img, 0, slotLabel, si.files, epoch)
	if err == nil {
		var w rw
		if w, err = img.Backend.Writable(); err == nil {
			err = finishFAT(w, 0, id.u32("slot-volume-id"))
		}
	}
	if cerr := img.Close(); err == nil {
		err = cerr
	}
	if err == nil && si.root != nil {
		err = si.root.writeTo(path, si.size)
	}
	if err != nil {
		return fmt.Errorf("the slot image %s: %w", path, err)
	}
	return ctx.Err()
}

// finishFAT fixes what go-diskfs leaves in a FAT32 filesystem starting at
// byte start of w: the root's children's ".." entries, and the volume ID
// (go-diskfs writes 0 when asked for reproducibility), in the boot sector
// and its backup.
func finishFAT(w rw, start int64, vol uint32) error {
	if err := fixFATDotDot(w, start); err != nil {
		return err
	}
	for _, off := range []int64{0x43, 6*sector + 0x43} {
		if _, err := w.WriteAt(le32(vol), start+off); err != nil {
			return fmt.Errorf("setting the FAT volume ID: %w", err)
		}
	}
	return nil
}

// copyInto copies the file at path to the start of partition p of w.
func copyInto(w rw, path string, p Partition) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > p.Size {
		return fmt.Errorf("the slot image (%d bytes) does not fit partition %s (%d bytes)", st.Size(), p.Name, p.Size)
	}
	if _, err := io.Copy(io.NewOffsetWriter(w, p.Start), f); err != nil {
		return fmt.Errorf("writing the slot image into %s: %w", p.Name, err)
	}
	return nil
}
