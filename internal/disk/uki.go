package disk

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// UKISection is one section appended to the EFI stub.
type UKISection struct {
	Name string // at most 8 bytes, e.g. ".linux"
	Data []byte
}

// BuildUKI returns a Unified Kernel Image: systemd's EFI stub (stub, the
// bytes of linux{x64,aa64}.efi.stub) with the sections appended after the
// stub's own, each at a fresh section-aligned virtual address, as ukify and
// `objcopy --add-section` do. The stub finds .osrel, .cmdline, .linux and
// .initrd by name. No tool but Go is needed, for any architecture.
func BuildUKI(stub []byte, sections []UKISection) ([]byte, error) {
	if len(stub) < 0x40 || string(stub[:2]) != "MZ" {
		return nil, errors.New("EFI stub: not a PE file (no MZ header)")
	}
	pe := int(binary.LittleEndian.Uint32(stub[0x3c:]))
	if pe+24 > len(stub) || string(stub[pe:pe+4]) != "PE\x00\x00" {
		return nil, errors.New("EFI stub: no PE signature")
	}
	coff := pe + 4
	nsec := int(binary.LittleEndian.Uint16(stub[coff+2:]))
	optSize := int(binary.LittleEndian.Uint16(stub[coff+16:]))
	opt := coff + 20
	if binary.LittleEndian.Uint16(stub[opt:]) != 0x20b {
		return nil, errors.New("EFI stub: not a PE32+ image")
	}
	secAlign := binary.LittleEndian.Uint32(stub[opt+32:])
	fileAlign := binary.LittleEndian.Uint32(stub[opt+36:])
	sizeOfHeaders := int(binary.LittleEndian.Uint32(stub[opt+60:]))
	table := opt + optSize
	// Where the stub's sections end, in memory and in the file.
	var vend uint32
	fend := sizeOfHeaders
	firstRaw := len(stub)
	for i := 0; i < nsec; i++ {
		h := stub[table+40*i:]
		vsize, vaddr := binary.LittleEndian.Uint32(h[8:]), binary.LittleEndian.Uint32(h[12:])
		rsize, raddr := int(binary.LittleEndian.Uint32(h[16:])), int(binary.LittleEndian.Uint32(h[20:]))
		vend = max(vend, vaddr+max(vsize, uint32(rsize)))
		if rsize > 0 {
			fend = max(fend, raddr+rsize)
			firstRaw = min(firstRaw, raddr)
		}
	}
	if table+40*(nsec+len(sections)) > min(sizeOfHeaders, firstRaw) {
		return nil, fmt.Errorf("EFI stub: no room for %d more section headers", len(sections))
	}
	out := append([]byte(nil), stub[:fend]...)
	vaddr := alignUp32(vend, secAlign)
	for i, s := range sections {
		if len(s.Name) > 8 {
			return nil, fmt.Errorf("section name %q is longer than 8 bytes", s.Name)
		}
		raw := len(out)
		rsize := int(alignUp32(uint32(len(s.Data)), fileAlign))
		out = append(out, s.Data...)
		out = append(out, make([]byte, rsize-len(s.Data))...)
		h := out[table+40*(nsec+i):][:40]
		clear(h)
		copy(h, s.Name)
		binary.LittleEndian.PutUint32(h[8:], uint32(len(s.Data)))
		binary.LittleEndian.PutUint32(h[12:], vaddr)
		binary.LittleEndian.PutUint32(h[16:], uint32(rsize))
		binary.LittleEndian.PutUint32(h[20:], uint32(raw))
		// IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ
		binary.LittleEndian.PutUint32(h[36:], 0x40000040)
		vaddr = alignUp32(vaddr+uint32(len(s.Data)), secAlign)
	}
	binary.LittleEndian.PutUint16(out[coff+2:], uint16(nsec+len(sections)))
	binary.LittleEndian.PutUint32(out[opt+56:], vaddr) // SizeOfImage
	binary.LittleEndian.PutUint32(out[opt+64:], 0)     // CheckSum: not verified by firmware
	// The stub's COFF symbol table (if any) was past its sections: dropped.
	binary.LittleEndian.PutUint32(out[coff+8:], 0)
	binary.LittleEndian.PutUint32(out[coff+12:], 0)
	return out, nil
}

func alignUp32(v, a uint32) uint32 {
	if a == 0 {
		return v
	}
	return (v + a - 1) / a * a
}
