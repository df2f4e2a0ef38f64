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

// grubModules are built into every GRUB image: GPT, FAT, the Linux
// loader, the environment block (the A/B state) and what grub.cfg uses
// (probe: the PARTUUID of the slot whose kernel maps its root there).
var grubModules = []string{"part_gpt", "fat", "normal", "linux", "boot", "echo", "test", "loadenv", "regexp", "sleep", "reboot", "configfile", "probe"}

// GRUB's EFI targets: the grub-mkimage format, Debian's package of its
// modules and their directory in it, and the extra modules (efi_gop: a
// console without "no suitable video mode"; gzio: gzipped kernels).
var grubEFI = map[string]struct{ format, pkg, dir string }{
	"x64":  {"x86_64-efi", "grub-efi-amd64-bin", "usr/lib/grub/x86_64-efi"},
	"aa64": {"arm64-efi", "grub-efi-arm64-bin", "usr/lib/grub/arm64-efi"},
}

// GRUB is GRUB's BIOS boot code: boot.img (the MBR's code) and core.img
// (written to the BIOS boot partition), made at build time from Debian's
// grub-pc-bin, so the tool itself ships no GPLv3 binaries.
type GRUB struct {
	Boot []byte
	Core []byte
}

// MakeGRUB runs grub-mkimage for a core.img that reads its configuration
// from /grub on GPT partition bootPart of the boot drive.
func MakeGRUB(ctx context.Context, bootPart int) (*GRUB, error) {
	boot, err := os.ReadFile(filepath.Join(GRUBDir, "boot.img"))
	if err != nil {
		return nil, fmt.Errorf("the legacy BIOS boot loader needs GRUB's modules (Debian: apt-get install grub-pc-bin): %w", err)
	}
	if len(boot) != sector {
		return nil, fmt.Errorf("GRUB's boot.img is %d bytes, want %d", len(boot), sector)
	}
	core, err := grubMkimage(ctx, "i386-pc", GRUBDir, fmt.Sprintf("(,gpt%d)/grub", bootPart), append([]string{"biosdisk", "serial", "terminal"}, grubModules...))
	if err != nil {
		return nil, err
	}
	return &GRUB{Boot: boot, Core: core}, nil
}

// MakeGRUBEFI makes GRUB's EFI binary for the UEFI architecture arch
// (BOOTX64.EFI, BOOTAA64.EFI), reading /grub/grub.cfg on the ESP it was
// loaded from. The modules come from the installed Debian package, or the
// package for that architecture fetched into the cache (say gets a line).
func MakeGRUBEFI(ctx context.Context, arch string, say io.Writer) ([]byte, error) {
	t, ok := grubEFI[arch]
	if !ok {
		return nil, fmt.Errorf("no GRUB for UEFI architecture %q", arch)
	}
	dir := filepath.Join("/", t.dir)
	if _, err := os.Stat(filepath.Join(dir, "moddep.lst")); err != nil {
		root, err := FetchDeb(ctx, t.pkg, debArch[arch], say)
		if err != nil {
			return nil, fmt.Errorf("GRUB for UEFI (%s) needs %s: %w", arch, t.pkg, err)
		}
		dir = filepath.Join(root, t.dir)
	}
	return grubMkimage(ctx, t.format, dir, "/grub", append(grubModules, "efi_gop", "gzio"))
}

func grubMkimage(ctx context.Context, format, dir, prefix string, modules []string) ([]byte, error) {
	mk, err := exec.LookPath("grub-mkimage")
	if err != nil {
		return nil, fmt.Errorf("making the boot loader needs grub-mkimage (Debian: apt-get install grub-common): %w", err)
	}
	tmp, err := os.MkdirTemp("", "mkimage-grub-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "grub.img")
	cmd := exec.CommandContext(ctx, mk, append([]string{"-O", format, "-d", dir, "-p", prefix, "-o", out}, modules...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("grub-mkimage -O %s: %w: %s", format, err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(out)
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
