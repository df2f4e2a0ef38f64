package qemu

import (
	"fmt"
	"github.com/mkimage/mkimage/internal/files"
	"github.com/mkimage/mkimage/spec"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/manifest"
)

// dataParam is what a disk boot's command line carries so init mounts the
// data partition.
const dataParam = spec.DataCmdline

func serialArgs(b board.Board) []string {
	if len(b.QEMU.Boot.Serial) > 0 {
		return b.QEMU.Boot.Serial
	}
	return []string{"-serial", "stdio"}
}

// directArgs boots the image's kernel and initramfs without firmware.
// extra is appended to the command line.
func directArgs(b board.Board, m *manifest.Manifest, dir, extra string) []string {
	args := []string{
		"-kernel", filepath.Join(dir, m.Kernel.Name),
		"-initrd", filepath.Join(dir, m.Initramfs.Name),
		"-append", strings.TrimSpace(m.Cmdline + " " + extra),
	}
	if m.DTB != nil {
		args = append(args, "-dtb", filepath.Join(dir, m.DTB.Name))
	}
	return args
}

// prepareBoot returns the boot arguments for opts.Boot: for "bios" and
// "uefi" the disk image (opts.Disk, default the image's disk.img, used in
// place so /data persists across boots unless opts.Snapshot), grown to
// opts.DiskSize first; for "uefi" a private copy of the firmware's
// variable store in tmp. A direct boot with a disk attached tells init to
// use the disk's data partition. nil means a plain direct boot.
func prepareBoot(b board.Board, m *manifest.Manifest, dir, tmp string, opts Options) ([]string, error) {
	mode := opts.Boot
	if mode == "" {
		mode = board.BootDirect
	}
	modes := b.QEMU.Boot.Modes
	if len(modes) == 0 {
		modes = []string{board.BootDirect}
	}
	if !slices.Contains(modes, mode) {
		return nil, fmt.Errorf("board %s boots under QEMU with %s, not %q", b.Name, strings.Join(modes, ", "), mode)
	}
	file := opts.Disk
	if file == "" && mode != board.BootDirect {
		if m.Disk == nil {
			return nil, fmt.Errorf("the image in %s has no disk image (built with -no-disk?)", dir)
		}
		file = filepath.Join(dir, m.Disk.Name)
	}
	if file == "" {
		return nil, nil
	}
	if err := growDisk(file, opts.DiskSize); err != nil {
		return nil, err
	}
	iface := b.QEMU.Boot.DiskInterface
	if iface == "" {
		iface = "virtio"
	}
	if iface == "sd" {
		st, err := os.Stat(file)
		if err != nil {
			return nil, err
		}
		if n := st.Size(); n&(n-1) != 0 {
			return nil, fmt.Errorf("QEMU's SD card needs a power-of-2 size; %s is %d bytes (use -disk-size)", file, n)
		}
	}
	drive := fmt.Sprintf("file=%s,format=raw,if=%s", file, iface)
	if opts.Snapshot {
		drive += ",snapshot=on"
	}
	args := []string{"-drive", drive}
	switch mode {
	case board.BootDirect:
		return append(args, directArgs(b, m, dir, dataParam)...), nil
	case board.BootUEFI:
		code, vars := b.QEMU.Boot.UEFICode, b.QEMU.Boot.UEFIVars
		for _, f := range []string{code, vars} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("UEFI firmware %s is missing (Debian: apt-get install %s)", f, b.QEMU.Boot.UEFIPackage)
			}
		}
		own := filepath.Join(tmp, "efivars.fd")
		if err := files.Copy(vars, own); err != nil {
			return nil, fmt.Errorf("copying the UEFI variable store: %w", err)
		}
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
			"-drive", "if=pflash,format=raw,unit=1,file="+own)
	}
	return args, nil
}

// growDisk extends the image file to size bytes (never shrinks it): like
// attaching the image to a bigger disk.
func growDisk(file string, size int64) error {
	if size <= 0 {
		return nil
	}
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("disk image: %w", err)
	}
	if st.Size() >= size {
		return nil
	}
	if err := os.Truncate(file, size); err != nil {
		return fmt.Errorf("growing the disk image: %w", err)
	}
	return nil
}
