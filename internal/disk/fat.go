package disk

import (
	"encoding/binary"
	"fmt"
)

// fixFATDotDot sets the ".." entry of every directory in the root
// directory to cluster 0, as the FAT specification wants for the root's
// children (go-diskfs writes the root's cluster number, which fsck.fat
// reports as invalid). The FAT32 filesystem starts at byte start of f.
func fixFATDotDot(f rw, start int64) error {
	bs := make([]byte, 512)
	if _, err := f.ReadAt(bs, start); err != nil {
		return fmt.Errorf("reading the FAT boot sector: %w", err)
	}
	bps := int64(binary.LittleEndian.Uint16(bs[0x0b:]))
	spc := int64(bs[0x0d])
	reserved := int64(binary.LittleEndian.Uint16(bs[0x0e:]))
	fats := int64(bs[0x10])
	fatSize := int64(binary.LittleEndian.Uint32(bs[0x24:]))
	root := binary.LittleEndian.Uint32(bs[0x2c:])
	if bps == 0 || spc == 0 {
		return fmt.Errorf("the boot partition has no FAT32 boot sector")
	}
	clusterBytes := bps * spc
	data := start + (reserved+fats*fatSize)*bps
	at := func(c uint32) int64 { return data + int64(c-2)*clusterBytes }
	next := func(c uint32) (uint32, error) {
		b := make([]byte, 4)
		if _, err := f.ReadAt(b, start+reserved*bps+int64(c)*4); err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint32(b) & 0x0fffffff, nil
	}
	for c, n := root, 0; c >= 2 && c < 0x0ffffff8 && n < 1<<16; n++ {
		dir := make([]byte, clusterBytes)
		if _, err := f.ReadAt(dir, at(c)); err != nil {
			return fmt.Errorf("reading the root directory: %w", err)
		}
		for e := 0; e+32 <= len(dir); e += 32 {
			ent := dir[e : e+32]
			if ent[0] == 0 {
				return nil
			}
			attr := ent[0x0b]
			if ent[0] == 0xe5 || attr == 0x0f || attr&0x08 != 0 || attr&0x10 == 0 {
				continue
			}
			sub := uint32(binary.LittleEndian.Uint16(ent[0x14:]))<<16 | uint32(binary.LittleEndian.Uint16(ent[0x1a:]))
			if sub < 2 {
				continue
			}
			dot := make([]byte, 64)
			if _, err := f.ReadAt(dot, at(sub)); err != nil {
				return err
			}
			if string(dot[32:43]) != "..         " {
				continue
			}
			if _, err := f.WriteAt([]byte{0, 0}, at(sub)+32+0x14); err != nil {
				return err
			}
			if _, err := f.WriteAt([]byte{0, 0}, at(sub)+32+0x1a); err != nil {
				return err
			}
		}
		var err error
		if c, err = next(c); err != nil {
			return err
		}
	}
	return nil
}
