package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/build"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/qemu"
)

// diskFlags adds the build's disk image flags to fs.
func diskFlags(fs *flag.FlagSet) func() (build.Options, error) {
	noDisk := fs.Bool("no-disk", false, "skip the disk image (kernel and initramfs only)")
	formats := fs.String("formats", "", "disk image encodings besides the raw disk.img, comma-separated: gz, qcow2 (qcow2 needs qemu-img)")
	return func() (build.Options, error) {
		var o build.Options
		o.NoDisk = *noDisk
		for _, f := range strings.Split(*formats, ",") {
			if f = strings.TrimSpace(f); f != "" {
				o.DiskFormats = append(o.DiskFormats, f)
			}
		}
		return o, build.CheckDiskFormats(o.DiskFormats)
	}
}

func printDiskSummary(out io.Writer, m *manifest.Manifest, dir string) {
	if m.Disk == nil {
		return
	}
	fmt.Fprintf(out, "  %-9s %s  %s (%s", "disk", mib(m.Disk.Size), filepath.Join(dir, m.Disk.Name), m.Disk.Table)
	for _, p := range m.Disk.Partitions {
		fmt.Fprintf(out, ", %s %d MiB", p.Name, p.Size>>20)
	}
	fmt.Fprintln(out, ")")
	for _, f := range m.Disk.Formats {
		fmt.Fprintf(out, "  %-9s %s  %s\n", "", mib(f.Size), filepath.Join(dir, f.Name))
	}
}

// bootDiskFlags adds boot's firmware and disk flags to fs.
func bootDiskFlags(fs *flag.FlagSet) func(*qemu.Options) error {
	mode := fs.String("boot", "direct", "direct (-kernel/-initrd), bios (the disk image under SeaBIOS) or uefi (under OVMF/AAVMF)")
	file := fs.String("disk", "", "disk image to attach (default for bios/uefi: DIR/disk.img, used in place so /data persists)")
	size := fs.String("disk-size", "", "grow the disk image file to this size first, e.g. 2G (like a bigger VPS disk)")
	snapshot := fs.Bool("snapshot", false, "discard the guest's writes to the disk image")
	return func(o *qemu.Options) error {
		o.Boot, o.Disk, o.Snapshot = *mode, *file, *snapshot
		if *size != "" {
			n, err := config.ParseSize(*size)
			if err != nil || n == 0 || n > 1<<50 {
				return fmt.Errorf("-disk-size: %q is not a disk size (e.g. 2G, 512M)", *size)
			}
			o.DiskSize = int64(n)
		}
		return nil
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bootModes lists how `mkimage boot` can run the board ("-": not at all).
func bootModes(b board.Board) string {
	if b.QEMU.Binary == "" {
		return "-"
	}
	if len(b.QEMU.Boot.Modes) == 0 {
		return board.BootDirect
	}
	return strings.Join(b.QEMU.Boot.Modes, ",")
}
