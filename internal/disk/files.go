package disk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mkimage/mkimage/board"
)

// diskContents is what goes on the boot partition and, with system
// slots, into a slot, and the sizes of both partitions.
type diskContents struct {
	boot, sys        []bootFile
	root             *slotRoot // the slot's mapped root, after its FAT (MapRoot)
	bootMiB, slotMiB int
}

// slot is the slot image's description for writeSlot.
func (c diskContents) slot() slotImage {
	return slotImage{size: int64(c.slotMiB) * mib, files: c.sys, root: c.root}
}

// contents reads what goes on the boot partition and, with system slots,
// into a slot, and sizes both partitions.
func contents(s Spec) (c diskContents, err error) {
	d := s.Board.Disk
	c.bootMiB = d.BootMiB
	if d.TryBoot {
		c.boot, c.sys, c.slotMiB, err = tryBootContents(s)
		return c, err
	}
	if !hasSlots(s.Board) {
		c.boot, err = bootFiles(s)
		if err == nil {
			c.bootMiB, err = bootSize(d.BootMiB, 2*filesBytes(c.boot))
		}
		return c, err
	}
	if s.MapRoot {
		c.sys, c.root, c.slotMiB, err = mappedSlotFiles(s)
	} else if c.sys, err = slotFiles(s); err == nil {
		c.slotMiB, err = bootSize(d.SlotMiB, filesBytes(c.sys))
	}
	if err != nil {
		return c, err
	}
	lay, _ := plan(s.Board, d.BootMiB, c.slotMiB, ids{})
	c.boot, err = espFiles(s, partitionNamed(lay, "slot-a").Index, partitionNamed(lay, "slot-b").Index)
	return c, err
}

// bootFiles returns the boot partition's files for the board's layout,
// sorted by path.
func bootFiles(s Spec) ([]bootFile, error) {
	kernel, initrd, err := readSystem(s)
	if err != nil {
		return nil, err
	}
	d := s.Board.Disk
	var files []bootFile
	slot := "/" + Slot + "/"
	switch d.Layout {
	case board.LayoutPC, board.LayoutUEFI:
		return nil, fmt.Errorf("board %s has system slots: its boot partition holds GRUB (espFiles)", s.Board.Name)
	case board.LayoutRPi:
		if files, err = piFiles(s, slot); err != nil {
			return nil, err
		}
		files = append(files,
			bootFile{"/config.txt", []byte(ConfigTxt(d))},
			bootFile{slot + "cmdline.txt", []byte(s.Cmdline + "\n")},
			bootFile{slot + "vmlinuz", kernel},
			bootFile{slot + "initrd.zst", initrd})
	default:
		return nil, fmt.Errorf("board %s has no disk layout", s.Board.Name)
	}
	sortFiles(files)
	return files, nil
}

// piFiles are a Pi's firmware files (at the root), and its device trees
// and overlays (in dir).
func piFiles(s Spec, dir string) ([]bootFile, error) {
	d := s.Board.Disk
	var files []bootFile
	for _, name := range d.Firmware {
		data, err := os.ReadFile(filepath.Join(s.FirmwareDir, name))
		if err != nil {
			return nil, fmt.Errorf("reading Raspberry Pi firmware: %w", err)
		}
		files = append(files, bootFile{"/" + name, data})
	}
	for _, name := range d.DTBs {
		data, err := os.ReadFile(filepath.Join(s.KernelDir, name))
		if err != nil {
			return nil, fmt.Errorf("reading device tree: %w", err)
		}
		files = append(files, bootFile{dir + name, data})
	}
	for _, name := range d.Overlays {
		data, err := os.ReadFile(filepath.Join(s.KernelDir, "overlays", name))
		if err != nil {
			return nil, fmt.Errorf("reading device tree overlay: %w", err)
		}
		files = append(files, bootFile{dir + "overlays/" + name, data})
	}
	if len(d.Overlays) > 0 {
		files = append(files, bootFile{dir + "overlays/README", []byte(overlaysREADME)})
	}
	return files, nil
}

// espFiles are the ESP's files on a disk with system slots: GRUB's EFI
// binary, grub.cfg and the environment block. (The BIOS core.img reads
// the same /grub.)
func espFiles(s Spec, partA, partB int) ([]bootFile, error) {
	if len(s.GRUBEFI) == 0 {
		return nil, fmt.Errorf("board %s: no GRUB EFI binary to put on the ESP", s.Board.Name)
	}
	env, err := initialEnv()
	if err != nil {
		return nil, err
	}
	files := []bootFile{
		{"/EFI/BOOT/BOOT" + strings.ToUpper(s.Board.Disk.EFIArch) + ".EFI", s.GRUBEFI},
		{"/grub/grub.cfg", []byte(grubConfig(s.Cmdline, partA, partB))},
		{EnvPath, env},
	}
	sortFiles(files)
	return files, nil
}

// slotFiles are a system slot's files: the kernel, the initramfs and its
// kernel command line (cmdline.cfg, which grub.cfg sources), so an update
// brings its own command line along.
func slotFiles(s Spec) ([]bootFile, error) {
	kernel, initrd, err := readSystem(s)
	if err != nil {
		return nil, err
	}
	cfg, err := cmdlineCfg(s.Cmdline)
	if err != nil {
		return nil, err
	}
	return []bootFile{{"/cmdline.cfg", cfg}, {"/initrd.zst", initrd}, {"/vmlinuz", kernel}}, nil
}

// cmdlineCfg is a slot's cmdline.cfg: it sets args to the kernel command
// line, then runs lines (GRUB script, "" for none).
func cmdlineCfg(cmdline string, lines ...string) ([]byte, error) {
	if strings.ContainsAny(cmdline, "\"$\\`\n") {
		return nil, fmt.Errorf("the kernel command line %q holds a character GRUB would interpret (\" $ \\ `)", cmdline)
	}
	cfg := "# Written by mkimage: this slot's kernel command line.\nset args=\"" + cmdline + "\"\n"
	for _, l := range lines {
		cfg += l + "\n"
	}
	return []byte(cfg), nil
}

// readSystem reads the kernel and the initramfs.
func readSystem(s Spec) (kernel, initrd []byte, err error) {
	if kernel, err = os.ReadFile(s.Kernel); err != nil {
		return nil, nil, fmt.Errorf("reading the kernel: %w", err)
	}
	if initrd, err = os.ReadFile(s.Initramfs); err != nil {
		return nil, nil, fmt.Errorf("reading the initramfs: %w", err)
	}
	return kernel, initrd, nil
}

// overlaysREADME is the slot's overlays/README: the Raspberry Pi firmware
// loads overlays from os_prefix's overlays/ only when that file exists
// (otherwise from the shared /overlays/), so a slot's overlays stay with
// the device trees they were built for.
const overlaysREADME = "Device tree overlays of this system slot, written by mkimage.\n" +
	"The Raspberry Pi firmware reads overlays here (os_prefix + overlays/) because this file exists.\n"

// ConfigTxt is the Raspberry Pi firmware's config.txt. os_prefix makes the
// firmware load the kernel, initramfs, cmdline.txt, device trees and
// overlays from the slot's directory, so an update can switch slots by
// rewriting it. The same lines serve a Pi 5, whose EEPROM firmware also
// looks for its device tree (os_check) under os_prefix.
func ConfigTxt(d board.Disk) string {
	lines := []string{"# written by mkimage", "os_prefix=" + Slot + "/"}
	lines = append(lines, d.ConfigTxt...)
	lines = append(lines, "kernel=vmlinuz", "initramfs initrd.zst followkernel")
	return strings.Join(lines, "\n") + "\n"
}
