package disk

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
	"github.com/google/uuid"
)

// writeExt4 formats the data partition: ext4 with 4 KiB blocks and a
// journal, which the kernel grows online (EXT4_IOC_RESIZE_FS) at boot.
// go-diskfs stamps the current time and a random hash seed into it; both
// are then set from the build's epoch and seed, in every superblock copy
// and in the inodes mkfs made (root, lost+found, journal, resize).
func writeExt4(img *disk.Disk, p Partition, id ids, epoch uint64) error {
	u := uuid.UUID(id.uuid("ext4-uuid"))
	fs, err := ext4.Create(img.Backend, p.Size, p.Start, sector, &ext4.Params{
		UUID: &u, VolumeName: DataLabel, SectorsPerBlock: 8,
		// No resize inode: go-diskfs writes it with a wrong size (e2fsck
		// objects), and the kernel's online resize converts the
		// filesystem to meta_bg when it runs out of descriptor blocks.
		Features: []ext4.FeatureOpt{ext4.WithFeatureReservedGDTBlocksForExpansion(false)},
	})
	if err != nil {
		return fmt.Errorf("formatting the data partition: %w", err)
	}
	if err := fs.Close(); err != nil {
		return fmt.Errorf("formatting the data partition: %w", err)
	}
	w, err := img.Backend.Writable()
	if err != nil {
		return err
	}
	return fixExt4(w, p.Start, id.uuid("ext4-hash-seed"), uint32(epoch))
}

// rw is what fixExt4 needs of the image.
type rw interface {
	io.ReaderAt
	io.WriterAt
}

// Superblock fields (offsets in the 1024-byte superblock).
const (
	sbInodesPerGroup = 0x28
	sbMtime          = 0x2c
	sbWtime          = 0x30
	sbMagic          = 0x38
	sbLastCheck      = 0x40
	sbFirstDataBlock = 0x14
	sbLogBlockSize   = 0x18
	sbBlocksPerGroup = 0x20
	sbBlocksCount    = 0x04
	sbInodeSize      = 0x58
	sbUUID           = 0x68
	sbLabel          = 0x78
	sbHashSeed       = 0xec
	sbDescSize       = 0xfe
	sbMkfsTime       = 0x108
	sbBlocksCountHi  = 0x150
	sbTimeHi         = 0x274 // wtime_hi, mtime_hi, mkfs_time_hi, lastcheck_hi
)

func fixExt4(f rw, start int64, seed [16]byte, epoch uint32) error {
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, start+1024); err != nil {
		return fmt.Errorf("reading the data superblock: %w", err)
	}
	if binary.LittleEndian.Uint16(sb[sbMagic:]) != 0xef53 {
		return fmt.Errorf("the data partition has no ext4 superblock")
	}
	bs := int64(1024) << binary.LittleEndian.Uint32(sb[sbLogBlockSize:])
	perGroup := int64(binary.LittleEndian.Uint32(sb[sbBlocksPerGroup:]))
	firstData := int64(binary.LittleEndian.Uint32(sb[sbFirstDataBlock:]))
	blocks := int64(binary.LittleEndian.Uint32(sb[sbBlocksCount:])) | int64(binary.LittleEndian.Uint32(sb[sbBlocksCountHi:]))<<32
	fix := func(b []byte) {
		for _, off := range []int{sbMtime, sbWtime, sbLastCheck, sbMkfsTime} {
			binary.LittleEndian.PutUint32(b[off:], epoch)
		}
		copy(b[sbTimeHi:sbTimeHi+4], []byte{0, 0, 0, 0})
		copy(b[sbHashSeed:], seed[:])
	}
	// The primary and every backup superblock (same UUID at the start of
	// a group; group 0's sits 1024 bytes into the block device).
	uuid := append([]byte(nil), sb[sbUUID:sbUUID+16]...)
	groups := (blocks - firstData + perGroup - 1) / perGroup
	for g := int64(0); g < groups; g++ {
		off := start + (firstData+g*perGroup)*bs
		if g == 0 {
			off = start + 1024
		}
		b := make([]byte, 1024)
		if _, err := f.ReadAt(b, off); err != nil {
			return fmt.Errorf("reading superblock copy: %w", err)
		}
		if binary.LittleEndian.Uint16(b[sbMagic:]) != 0xef53 || string(b[sbUUID:sbUUID+16]) != string(uuid) {
			continue
		}
		fix(b)
		if _, err := f.WriteAt(b, off); err != nil {
			return fmt.Errorf("writing superblock copy: %w", err)
		}
	}
	// Group 0's inode table: the inodes mkfs used.
	descSize := int64(32)
	if d := int64(binary.LittleEndian.Uint16(sb[sbDescSize:])); d >= 64 {
		descSize = d
	}
	gd := make([]byte, descSize)
	if _, err := f.ReadAt(gd, start+(firstData+1)*bs); err != nil {
		return fmt.Errorf("reading group descriptor: %w", err)
	}
	table := int64(binary.LittleEndian.Uint32(gd[8:]))
	if descSize >= 64 {
		table |= int64(binary.LittleEndian.Uint32(gd[0x28:])) << 32
	}
	isize := int64(binary.LittleEndian.Uint16(sb[sbInodeSize:]))
	n := min(int64(binary.LittleEndian.Uint32(sb[sbInodesPerGroup:])), 64)
	buf := make([]byte, isize*n)
	if _, err := f.ReadAt(buf, start+table*bs); err != nil {
		return fmt.Errorf("reading inode table: %w", err)
	}
	// Without metadata_csum the inode checksum fields are unused; go-diskfs
	// fills them in anyway, over the times it stamped.
	csum := binary.LittleEndian.Uint32(sb[0x64:])&0x400 != 0
	for i := int64(0); i < n; i++ {
		in := buf[i*isize : (i+1)*isize]
		if !csum {
			in[0x7c], in[0x7d] = 0, 0
			if isize > 128 {
				in[0x82], in[0x83] = 0, 0
			}
		}
		for _, off := range []int{0x08, 0x0c, 0x10} { // atime, ctime, mtime
			if binary.LittleEndian.Uint32(in[off:]) != 0 {
				binary.LittleEndian.PutUint32(in[off:], epoch)
			}
		}
		if isize > 128 {
			extra := int(binary.LittleEndian.Uint16(in[0x80:]))
			for _, off := range []int{0x84, 0x88, 0x8c, 0x94} { // *_extra
				if 0x80+extra >= off+4 {
					binary.LittleEndian.PutUint32(in[off:], 0)
				}
			}
			if 0x80+extra >= 0x94 && binary.LittleEndian.Uint32(in[0x90:]) != 0 {
				binary.LittleEndian.PutUint32(in[0x90:], epoch) // crtime
			}
		}
	}
	if _, err := f.WriteAt(buf, start+table*bs); err != nil {
		return fmt.Errorf("writing inode table: %w", err)
	}
	return nil
}
