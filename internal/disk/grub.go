package disk

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GRUBDir is where Debian's grub-pc-bin installs GRUB's BIOS modules.
const GRUBDir = "/usr/lib/grub/i386-pc"

// GRUB is GRUB's BIOS boot code: boot.img (the MBR's code) and core.img
// (written to the BIOS boot partition), made at build time from Debian's
// grub-pc-bin, so the tool itself ships no GPLv3 binaries.
type GRUB struct {
	Boot []byte
	Core []byte
}

// MakeGRUB runs grub-mkimage for a core.img that reads its configuration
// from /boot/grub on GPT partition bootPart.
func MakeGRUB(ctx context.Context, bootPart int) (*GRUB, error) {
	mk, err := exec.LookPath("grub-mkimage")
	if err != nil {
		return nil, fmt.Errorf("the legacy BIOS boot loader needs GRUB (Debian: apt-get install grub-pc-bin): %w", err)
	}
	boot, err := os.ReadFile(filepath.Join(GRUBDir, "boot.img"))
	if err != nil {
		return nil, fmt.Errorf("the legacy BIOS boot loader needs GRUB's modules (Debian: apt-get install grub-pc-bin): %w", err)
	}
	tmp, err := os.MkdirTemp("", "mkimage-grub-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	core := filepath.Join(tmp, "core.img")
	cmd := exec.CommandContext(ctx, mk, "-O", "i386-pc", "-d", GRUBDir,
		"-p", fmt.Sprintf("(,gpt%d)/boot/grub", bootPart), "-o", core,
		"biosdisk", "part_gpt", "fat", "normal", "linux", "configfile", "echo", "test")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("grub-mkimage: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	data, err := os.ReadFile(core)
	if err != nil {
		return nil, err
	}
	if len(boot) != sector {
		return nil, fmt.Errorf("GRUB's boot.img is %d bytes, want %d", len(boot), sector)
	}
	return &GRUB{Boot: boot, Core: data}, nil
}

// install does what grub-bios-setup does for a GPT disk: core.img goes to
// the BIOS boot partition p, and boot.img's code (the first 440 bytes,
// keeping the partition table) goes to the MBR, patched to load core.img's
// first sector, which in turn loads the rest by its block list.
func (g *GRUB) install(w io.WriterAt, p Partition) error {
	if int64(len(g.Core)) > p.Size {
		return fmt.Errorf("GRUB's core.img (%d bytes) does not fit the %d byte BIOS boot partition", len(g.Core), p.Size)
	}
	first := uint64(p.Start / sector)
	boot := append([]byte(nil), g.Boot[:440]...)
	binary.LittleEndian.PutUint64(boot[0x5c:], first) // kernel_sector
	boot[0x66], boot[0x67] = 0x90, 0x90               // skip the floppy probe
	core := append([]byte(nil), g.Core...)
	sectors := (len(core) + sector - 1) / sector
	// diskboot.img's block list: the rest of core.img, right after it.
	binary.LittleEndian.PutUint64(core[0x1f4:], first+1)
	binary.LittleEndian.PutUint16(core[0x1fc:], uint16(sectors-1))
	if _, err := w.WriteAt(boot, 0); err != nil {
		return fmt.Errorf("writing GRUB's boot code: %w", err)
	}
	if _, err := w.WriteAt(core, p.Start); err != nil {
		return fmt.Errorf("writing GRUB's core.img: %w", err)
	}
	return nil
}
