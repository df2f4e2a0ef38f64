package qemutests

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/mkimage/mkimage/internal/manifest"
)

// rpi5BootFiles is everything on a Pi 5 card's boot partition: no
// bootcode.bin, start*.elf or fixup*.dat (the bootloader and firmware are
// in the EEPROM); config.txt at the root; under os_prefix a/ the kernel,
// initramfs, cmdline.txt, the device trees of the Pi 5, 500 and CM5 (the
// firmware refuses a card without one: os_check) and the bcm2712d0
// overlay D0-stepping boards need, read from a/overlays/ because of its
// README.
var rpi5BootFiles = []string{
	"/a/bcm2712-rpi-5-b.dtb", "/a/bcm2712-rpi-500.dtb",
	"/a/bcm2712-rpi-cm5-cm4io.dtb", "/a/bcm2712-rpi-cm5-cm5io.dtb",
	"/a/bcm2712-rpi-cm5l-cm4io.dtb", "/a/bcm2712-rpi-cm5l-cm5io.dtb",
	"/a/cmdline.txt", "/a/initrd.zst", "/a/overlays/README", "/a/overlays/bcm2712d0.dtbo",
	"/a/vmlinuz", "/config.txt",
}

// TestRPi5Image checks the Pi 5 SD card image byte by byte (QEMU has no
// Pi 5): MBR with a bootable FAT32 partition at sector 2048 and a Linux
// one, the boot files where the Pi 5 firmware reads them and nothing else,
// real device trees for the BCM2712, an arm64 kernel that is the one
// built, the initramfs the manifest describes, config.txt, and cmdline.txt
// with the Pi 5's debug UART as the console.
func TestRPi5Image(t *testing.T) {
	img := boardImage(t, "rpi5", "")
	m, err := manifest.Read(img)
	must(t, err)
	if m.Disk == nil || m.Disk.Table != "mbr" || len(m.Disk.DiskID) != 8 {
		t.Fatalf("manifest disk: %+v", m.Disk)
	}
	var listed []string
	for _, f := range m.Disk.BootFiles {
		listed = append(listed, f.Path)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, rpi5BootFiles) {
		t.Errorf("boot files in the manifest:\n%s\nwant:\n%s", strings.Join(listed, "\n"), strings.Join(rpi5BootFiles, "\n"))
	}

	d, err := diskfs.Open(filepath.Join(img, "disk.img"), diskfs.WithOpenMode(diskfs.ReadOnly))
	must(t, err)
	defer d.Close()
	tbl, err := d.GetPartitionTable()
	must(t, err)
	mt, ok := tbl.(*mbr.Table)
	if !ok || len(mt.Partitions) < 2 {
		t.Fatalf("want an MBR with two partitions, got %T", tbl)
	}
	if p := mt.Partitions[0]; p.Type != mbr.Fat32LBA || !p.Bootable || p.Start != 2048 {
		t.Errorf("partition 1: %+v", p)
	}
	if p := mt.Partitions[1]; p.Type != mbr.Linux {
		t.Errorf("partition 2: %+v", p)
	}
	fs, err := d.GetFilesystem(1)
	must(t, err)
	read := func(p string) []byte {
		f, err := fs.OpenFile(p, os.O_RDONLY)
		if err != nil {
			t.Errorf("boot partition lacks %s: %v", p, err)
			return nil
		}
		b, _ := io.ReadAll(f)
		return b
	}
	root, err := fs.ReadDir(".") // io/fs names: "." is the root
	must(t, err)
	if len(root) == 0 {
		t.Error("the boot partition's root directory is empty")
	}
	for _, e := range root {
		if n := strings.ToLower(e.Name()); strings.HasSuffix(n, ".elf") || strings.HasSuffix(n, ".dat") || strings.HasSuffix(n, ".bin") {
			t.Errorf("firmware file %s on a Pi 5 card", e.Name())
		}
	}

	for _, f := range rpi5BootFiles {
		if !strings.HasSuffix(f, ".dtb") && !strings.HasSuffix(f, ".dtbo") {
			continue
		}
		b := read(f)
		if len(b) < 40 || binary.BigEndian.Uint32(b) != 0xd00dfeed {
			t.Errorf("%s is not a flattened device tree", f)
		} else if !bytes.Contains(b, []byte("brcm,bcm2712")) {
			t.Errorf("%s is not for the BCM2712", f)
		}
	}
	kernel := read("/a/vmlinuz")
	built, err := os.ReadFile(filepath.Join(img, "kernel"))
	must(t, err)
	if !bytes.Equal(kernel, built) {
		t.Errorf("a/vmlinuz (%d bytes) is not the kernel built (%d bytes)", len(kernel), len(built))
	}
	// An arm64 Image: the Pi 5 firmware starts it in 64-bit mode.
	if len(kernel) < 64 || string(kernel[0x38:0x3c]) != "ARM\x64" {
		t.Error("a/vmlinuz is not an arm64 kernel Image")
	}
	if got := read("/a/initrd.zst"); int64(len(got)) != m.Initramfs.Size {
		t.Errorf("initrd on the card: %d bytes, built %d", len(got), m.Initramfs.Size)
	}
	if readme := read("/a/overlays/README"); len(readme) == 0 {
		t.Error("a/overlays/README is empty")
	}

	cfg := string(read("/config.txt"))
	for _, want := range []string{"os_prefix=a/", "kernel=vmlinuz", "initramfs initrd.zst followkernel"} {
		if !strings.Contains(cfg, want+"\n") {
			t.Errorf("config.txt lacks %q:\n%s", want, cfg)
		}
	}
	// arm_64bit is gone on the Pi 5; enable_uart is not needed for the
	// debug UART.
	for _, not := range []string{"arm_64bit", "enable_uart", "os_check"} {
		if strings.Contains(cfg, not) {
			t.Errorf("config.txt has %q:\n%s", not, cfg)
		}
	}
	cmdline := string(read("/a/cmdline.txt"))
	if !strings.Contains(cmdline, "console=ttyAMA10,115200") || !strings.Contains(cmdline, "mkimage.data=mkimage-data") ||
		strings.Contains(cmdline, "ttyS0") || strings.Count(cmdline, "\n") != 1 {
		t.Errorf("cmdline.txt = %q", cmdline)
	}
	if cmdline != m.Disk.Cmdline+"\n" {
		t.Errorf("cmdline.txt = %q, manifest's disk cmdline %q", cmdline, m.Disk.Cmdline)
	}
}
