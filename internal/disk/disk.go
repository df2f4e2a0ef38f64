// Package disk writes a board's bootable disk image with go-diskfs: a
// partition table (GPT, or MBR for the Raspberry Pi), a FAT32 boot
// partition, and an ext4 data partition last on the disk, which the
// guest's init mounts at /data and grows to fill the disk on first boot.
// x86_64 and aarch64 disks have two system slots between them: the boot
// partition (ESP) holds GRUB, one grub.cfg and GRUB's environment block
// (the A/B state), and each slot is a FAT filesystem with the kernel and
// initramfs (slot a written, slot b empty until an update). On a
// Raspberry Pi 3 or Zero 2 W the boot partition holds the system under
// os_prefix a/; a Pi 4 or 5 card has slots the firmware boots itself
// (tryboot.go).
// Every ID in the image is derived from a seed and every timestamp is the
// build's SOURCE_DATE_EPOCH, so images are reproducible.
package disk

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"

	"github.com/mkimage/mkimage/spec"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/manifest"
)

// Names inside the image the guest relies on.
const (
	// DataLabel is the ext4 label of the data partition; init finds the
	// partition by it (GPT and MBR alike).
	DataLabel = spec.DataLabel
	// DataPartName is the GPT partition name of the data partition.
	DataPartName = "data"
	// BootLabel is the FAT volume label of the boot partition.
	BootLabel = "MKIMAGE"
	// Slot is the directory of the system on the boot partition; a later
	// update writes slot "b" beside it.
	Slot = "a"
	// DataParam is the kernel parameter a disk boot passes to init:
	// mkimage.data=LABEL (wait for that partition and mount it at /data).
	DataParam = spec.DataParam
)

const (
	mib    = 1 << 20
	sector = 512
	align  = mib / sector // partitions start on 1 MiB boundaries
)

// Spec is what goes into one disk image.
type Spec struct {
	Board     board.Board
	Kernel    string // kernel image file
	Initramfs string // compressed cpio file
	// Cmdline is the kernel command line of a disk boot.
	Cmdline string
	// KernelDir is the kernel module's directory (device trees).
	KernelDir string
	// FirmwareDir is the Raspberry Pi firmware module's directory.
	FirmwareDir string
	// GRUB holds the BIOS boot loader (LayoutPC); GRUBEFI the EFI one
	// (LayoutPC, LayoutUEFI).
	GRUB    *GRUB
	GRUBEFI []byte
	// SlotImage is where the slot's FAT image is written (A/B layouts):
	// the disk holds it in slot a, an update bundle carries it.
	SlotImage string
	// MapRoot: Initramfs is a squashfs root that a disk boot maps where it
	// lies in its slot (after the slot's FAT filesystem) instead of
	// loading it as an initrd, on boards where MapsRoot; Cmdline then has
	// no root arguments (kernel.MappedRootCmdline adds them).
	MapRoot bool
	// Seed derives every GUID, UUID and volume ID.
	Seed []byte
	// Epoch is every timestamp (SOURCE_DATE_EPOCH).
	Epoch uint64
}

// Layout, Partition and BootFile are recorded in the manifest.
type (
	Layout    = manifest.DiskLayout
	Partition = manifest.Partition
	BootFile  = manifest.BootFile
)

// Write creates the image file at path (which must not exist), and on
// boards with system slots the slot image at s.SlotImage.
func Write(ctx context.Context, file string, s Spec) (Layout, error) {
	d := s.Board.Disk
	if err := CheckFATSize(d.BootMiB); err != nil {
		return Layout{}, fmt.Errorf("board %s: %w", s.Board.Name, err)
	}
	id := ids{seed: s.Seed}
	c, err := contents(s)
	if err != nil {
		return Layout{}, err
	}
	files, sys := c.boot, c.sys
	lay, total := plan(s.Board, c.bootMiB, c.slotMiB, id)
	img, err := diskfs.Create(file, total, diskfs.SectorSizeDefault)
	if err != nil {
		return Layout{}, fmt.Errorf("creating disk image %s: %w", file, err)
	}
	ok := false
	defer func() {
		img.Close()
		if !ok {
			os.Remove(file)
		}
	}()
	if err := img.Partition(table(lay)); err != nil {
		return Layout{}, fmt.Errorf("writing the partition table: %w", err)
	}
	boot, data := partitionNamed(lay, "boot"), lay.Partitions[len(lay.Partitions)-1]
	if err := writeFAT(img, boot.Index, BootLabel, files, s.Epoch); err != nil {
		return Layout{}, fmt.Errorf("boot partition: %w", err)
	}
	if err := writeExt4(img, data, id, s.Epoch); err != nil {
		return Layout{}, err
	}
	w, err := img.Backend.Writable()
	if err != nil {
		return Layout{}, err
	}
	if err := finishFAT(w, boot.Start, id.u32("fat-volume-id")); err != nil {
		return Layout{}, fmt.Errorf("boot partition: %w", err)
	}
	if sys != nil {
		if s.SlotImage == "" {
			s.SlotImage = filepath.Join(filepath.Dir(file), SlotFile)
		}
		if err := writeSlot(ctx, s.SlotImage, c.slot(), id, s.Epoch); err != nil {
			return Layout{}, err
		}
		if err := copyInto(w, s.SlotImage, partitionNamed(lay, "slot-a")); err != nil {
			return Layout{}, err
		}
	}
	if lay.Table == "mbr" {
		if _, err := w.WriteAt(le32(id.u32("mbr-disk-signature")), 440); err != nil {
			return Layout{}, fmt.Errorf("setting the MBR disk signature: %w", err)
		}
		lay.DiskID = fmt.Sprintf("%08x", id.u32("mbr-disk-signature"))
	}
	if s.GRUB != nil {
		if err := s.GRUB.install(w, lay.Partitions[0]); err != nil {
			return Layout{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Layout{}, err
	}
	if err := sparsify(file); err != nil {
		return Layout{}, err
	}
	if sys != nil {
		if err := sparsify(s.SlotImage); err != nil {
			return Layout{}, err
		}
	}
	for _, f := range files {
		lay.BootFiles = append(lay.BootFiles, BootFile{Path: f.path, Size: int64(len(f.data))})
	}
	for _, f := range sys {
		lay.BootFiles = append(lay.BootFiles, BootFile{Path: "slot-a:" + f.path, Size: int64(len(f.data))})
	}
	if c.root != nil {
		lay.BootFiles = append(lay.BootFiles, BootFile{Path: fmt.Sprintf("slot-a@%d (the root, mapped)", c.root.offset), Size: int64(len(c.root.data))})
	}
	ok = true
	return lay, nil
}

func hasSlots(b board.Board) bool {
	return b.Disk.Layout == board.LayoutPC || b.Disk.Layout == board.LayoutUEFI || b.Disk.Layout == board.LayoutRPi && b.Disk.TryBoot
}

func filesBytes(fs []bootFile) int64 {
	var n int64
	for _, f := range fs {
		n += int64(len(f.data)) + 4096
	}
	return n
}

func partitionNamed(lay Layout, name string) Partition {
	for _, p := range lay.Partitions {
		if p.Name == name {
			return p
		}
	}
	return Partition{}
}

// plan lays the partitions out: 1 MiB aligned, the slots (if the layout
// has them) after the boot partition, the data partition last.
func plan(b board.Board, bootMiB, slotMiB int, id ids) (Layout, int64) {
	d := b.Disk
	var lay Layout
	next := int64(mib)
	add := func(p Partition) {
		p.Index = len(lay.Partitions) + 1
		p.Start = next
		next += p.Size
		lay.Partitions = append(lay.Partitions, p)
	}
	switch d.Layout {
	case board.LayoutRPi:
		lay.Table = "mbr"
	default:
		lay.Table = "gpt"
		lay.DiskID = id.guid("gpt-disk")
	}
	if d.Layout == board.LayoutPC {
		add(Partition{Name: "bios", Type: "bios-boot", Size: mib, GUID: id.guid("part-bios")})
	}
	boot := Partition{Name: "boot", Type: "efi-system", Size: int64(bootMiB) * mib, FS: "fat32", Label: BootLabel, GUID: id.guid("part-boot")}
	if d.Layout == board.LayoutRPi {
		boot.Type, boot.GUID = "fat32-lba", ""
	}
	add(boot)
	if hasSlots(b) {
		// Slot b has no filesystem until an update writes one.
		sa := Partition{Name: "slot-a", Type: "linux", Size: int64(slotMiB) * mib, FS: "fat32", GUID: id.guid("part-slot-a")}
		sb := Partition{Name: "slot-b", Type: "linux", Size: int64(slotMiB) * mib, GUID: id.guid("part-slot-b")}
		if lay.Table == "mbr" { // a Pi's slots are boot partitions
			sa.Type, sa.GUID, sb.Type, sb.GUID = "fat32-lba", "", "fat32-lba", ""
		}
		add(sa)
		add(sb)
	}
	data := Partition{Name: DataPartName, Type: "linux", Size: int64(d.DataMiB) * mib, FS: "ext4", Label: DataLabel, GUID: id.guid("part-data")}
	if lay.Table == "mbr" {
		data.GUID = ""
	}
	add(data)
	// 1 MiB at the end holds the backup GPT.
	return lay, next + mib
}

// table returns go-diskfs's partition table for lay.
func table(lay Layout) partition.Table {
	if lay.Table == "mbr" {
		t := &mbr.Table{LogicalSectorSize: sector, PhysicalSectorSize: sector}
		for _, p := range lay.Partitions {
			typ, fat := mbr.Linux, p.FS == "fat32" || p.Type == "fat32-lba"
			if fat {
				typ = mbr.Fat32LBA
			}
			t.Partitions = append(t.Partitions, &mbr.Partition{
				Index: p.Index, Bootable: fat, Type: typ,
				Start: uint32(p.Start / sector), Size: uint32(p.Size / sector),
			})
		}
		return t
	}
	types := map[string]gpt.Type{"bios-boot": gpt.BIOSBoot, "efi-system": gpt.EFISystemPartition, "linux": gpt.LinuxFilesystem}
	t := &gpt.Table{LogicalSectorSize: sector, PhysicalSectorSize: sector, ProtectiveMBR: true, GUID: lay.DiskID}
	for _, p := range lay.Partitions {
		t.Partitions = append(t.Partitions, &gpt.Partition{
			Index: p.Index, Start: uint64(p.Start / sector), End: uint64((p.Start+p.Size)/sector - 1),
			Size: uint64(p.Size), Type: types[p.Type], Name: p.Name, GUID: p.GUID,
		})
	}
	return t
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// bootFile is a file on the boot partition.
type bootFile struct {
	path string
	data []byte
}

func sortFiles(fs []bootFile) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].path < fs[j].path })
}

// writeFAT formats partition index of img (0: the whole image) as FAT32
// and copies the files in.
func writeFAT(img *disk.Disk, index int, label string, files []bootFile, epoch uint64) error {
	// go-diskfs stamps FAT entries with SOURCE_DATE_EPOCH when set.
	restore := setEnv("SOURCE_DATE_EPOCH", fmt.Sprint(epoch))
	defer restore()
	fs, err := img.CreateFilesystem(disk.FilesystemSpec{Partition: index, FSType: filesystem.TypeFat32, VolumeLabel: label, Reproducible: true})
	if err != nil {
		return fmt.Errorf("formatting FAT32: %w", err)
	}
	made := map[string]bool{"/": true}
	for _, f := range files {
		dir := path.Dir(f.path)
		var parts []string
		for d := dir; !made[d]; d = path.Dir(d) {
			parts = append(parts, d)
		}
		for i := len(parts) - 1; i >= 0; i-- {
			if err := fs.Mkdir(parts[i]); err != nil {
				return fmt.Errorf("creating %s: %w", parts[i], err)
			}
			made[parts[i]] = true
		}
		w, err := fs.OpenFile(f.path, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("creating %s: %w", f.path, err)
		}
		if _, err := w.Write(f.data); err != nil {
			w.Close()
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	return nil
}

func setEnv(k, v string) func() {
	old, had := os.LookupEnv(k)
	os.Setenv(k, v)
	return func() {
		if had {
			os.Setenv(k, old)
		} else {
			os.Unsetenv(k)
		}
	}
}

// FATSizes are the boot partition sizes (MiB) used: go-diskfs v1.9.4
// formats some FAT32 sizes wrongly (upstream issue #418: the FAT two
// entries short, e.g. 64, 129, 259, 505-507 MiB), and OVMF ignores an ESP
// of 32 MiB or less. Each of these is formatted and checked with fsck.fat
// by the tests.
var FATSizes = []int{40, 80, 100, 200, 300, 400, 500, 600, 800, 1000}

// CheckFATSize rejects a boot partition size not in FATSizes.
func CheckFATSize(m int) error {
	if slices.Contains(FATSizes, m) {
		return nil
	}
	return fmt.Errorf("boot partition size %d MiB: use one of %v (sizes checked with fsck.fat; go-diskfs gets some FAT32 sizes wrong)", m, FATSizes)
}

// bootSize picks the boot partition's size: the board's, or the smallest
// checked size that holds the system twice (room for slot b) when the
// system is bigger.
func bootSize(board int, system int64) (int, error) {
	need := system + 4*mib
	for _, m := range FATSizes {
		if m >= board && int64(m)*mib >= need {
			return m, nil
		}
	}
	return 0, fmt.Errorf("the system (%d MiB) does not fit the largest FAT partition (%d MiB)", system>>20, FATSizes[len(FATSizes)-1])
}
