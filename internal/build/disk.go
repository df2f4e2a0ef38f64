package build

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/disk"
	"github.com/mkimage/mkimage/internal/files"
	"github.com/mkimage/mkimage/internal/kernel"
	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/spec"
)

// Disk output file names inside DIR/<board>/.
const (
	DiskFile = "disk.img"
	DTBFile  = "board.dtb"
)

// Disk image encodings besides raw, for Options.DiskFormats.
const (
	FormatGzip  = "gz"
	FormatQCOW2 = "qcow2"
)

// writeDisk writes the board's disk image (when it has a layout) into dir
// and the device tree QEMU's direct boot needs (when it needs one).
func writeDisk(ctx context.Context, cfg *config.Config, b board.Board, k kernel.Kernel, src, dir string, m *manifest.Manifest, opts Options, say func(string, ...any)) error {
	kdir := filepath.Dir(k.Path)
	var err error
	if k.Version == "local" && b.Kernel.Module != "" && (len(b.Disk.DTBs) > 0 || b.QEMU.Boot.DTB != "") {
		// Device trees come from the board's kernel module.
		if kdir, _, err = kernel.ModuleDir(ctx, b.Kernel.Module, src, opts.Progress); err != nil {
			return err
		}
	}
	if b.QEMU.Boot.DTB != "" {
		if err := files.Copy(filepath.Join(kdir, b.QEMU.Boot.DTB), filepath.Join(dir, DTBFile)); err != nil {
			return err
		}
		f, err := manifest.Describe(dir, DTBFile)
		if err != nil {
			return err
		}
		m.DTB = &f
	}
	if b.Disk.Layout == "" || opts.NoDisk {
		return nil
	}
	t := time.Now()
	say("disk     making %s (%s)", DiskFile, b.Disk.Layout)
	s := disk.Spec{
		Board: b, Kernel: filepath.Join(dir, KernelFile), Initramfs: filepath.Join(dir, systemFile(k)),
		Cmdline:   m.Cmdline + " " + spec.DataCmdline,
		KernelDir: kdir, Seed: diskSeed(cfg, b), Epoch: opts.SourceDateEpoch,
	}
	if len(b.Disk.Firmware) > 0 {
		if s.FirmwareDir, _, err = kernel.ModuleDir(ctx, "github.com/gokrazy/firmware", src, opts.Progress); err != nil {
			return err
		}
	}
	if b.Disk.EFIArch != "" {
		if s.GRUBEFI, err = disk.MakeGRUBEFI(ctx, b.Disk.EFIArch, opts.Progress); err != nil {
			return fmt.Errorf("disk image: %w; or build without one: -no-disk", err)
		}
	}
	if _, slots := disk.ABOf(b); slots {
		s.SlotImage = filepath.Join(dir, disk.SlotFile)
	}
	if k.SquashfsRoot && disk.MapsRoot(b) {
		// The kernel maps the root from the slot: no RAM disk.
		s.MapRoot = true
		s.Cmdline = cmdline(cfg, b, k, "") + " " + spec.DataCmdline
	}
	if b.Disk.Layout == board.LayoutPC {
		if s.GRUB, err = disk.MakeGRUB(ctx, disk.BootIndex(b)); err != nil {
			return fmt.Errorf("disk image: %w; or build without one: -no-disk", err)
		}
	}
	key, keyErr := diskKey(s, m)
	kept := keyErr == nil && reuseDisk(filepath.Join(opts.OutDir, b.Name), dir, key, m)
	if !kept {
		if err := newDisk(ctx, s, dir, m); err != nil {
			return err
		}
		if keyErr == nil {
			if err := writeStamp(dir, key, m); err != nil {
				return err
			}
		}
	}
	var parts []string
	for _, p := range m.Disk.Partitions {
		parts = append(parts, fmt.Sprintf("%s %d MiB", p.Name, p.Size>>20))
	}
	what := "written"
	if kept {
		what = "unchanged, kept from the last build"
	}
	say("disk     %s %s %s: %s (%v)", m.Disk.Table, DiskFile, what, strings.Join(parts, ", "), time.Since(t).Round(time.Millisecond))
	for _, format := range opts.DiskFormats {
		t := time.Now()
		name, err := encodeDisk(ctx, dir, format)
		if err != nil {
			return err
		}
		f, err := manifest.Describe(dir, name)
		if err != nil {
			return err
		}
		m.Disk.Formats = append(m.Disk.Formats, f)
		say("disk     %s %s (%v)", name, size(f.Size), time.Since(t).Round(time.Millisecond))
	}
	return nil
}

// diskSeed derives the disk's IDs from the config file and the board, so
// a rebuild gives the same image and two appliances different IDs.
func diskSeed(cfg *config.Config, b board.Board) []byte {
	h := sha256.New()
	data, _ := os.ReadFile(cfg.Path)
	h.Write(data)
	h.Write([]byte{0})
	h.Write([]byte(b.Name))
	return h.Sum(nil)
}

// newDisk writes the disk image (and slot image) into dir and describes
// them in m.
func newDisk(ctx context.Context, s disk.Spec, dir string, m *manifest.Manifest) error {
	lay, err := disk.Write(ctx, filepath.Join(dir, DiskFile), s)
	if err != nil {
		return err
	}
	f, err := manifest.Describe(dir, DiskFile)
	if err != nil {
		return err
	}
	m.Disk = &manifest.Disk{File: f, Cmdline: s.Cmdline, DiskLayout: lay}
	if s.SlotImage != "" {
		sf, err := manifest.Describe(dir, disk.SlotFile)
		if err != nil {
			return err
		}
		m.Slot = &sf
	}
	return nil
}
