package disk

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

// A Pi 5 card has no firmware files (the bootloader is in the EEPROM);
// config.txt, the device trees, the bcm2712d0 overlay with the README
// that makes the firmware read it from the slot, kernel and initramfs
// are where the firmware looks for them under os_prefix a/.
func TestRPi5Image(t *testing.T) {
	s := testSpec(t, "rpi5")
	s.Cmdline = "console=ttyAMA10,115200 mkimage.data=" + DataLabel
	must(t, os.MkdirAll(filepath.Join(s.KernelDir, "overlays"), 0o755))
	for _, n := range s.Board.Disk.DTBs {
		must(t, os.WriteFile(filepath.Join(s.KernelDir, n), []byte(n), 0o644))
	}
	for _, n := range s.Board.Disk.Overlays {
		must(t, os.WriteFile(filepath.Join(s.KernelDir, "overlays", n), []byte(n), 0o644))
	}
	p := filepath.Join(t.TempDir(), "disk.img")
	lay, err := Write(context.Background(), p, s)
	must(t, err)
	fsck(t, p, lay)
	d, err := diskfs.Open(p, diskfs.WithOpenMode(diskfs.ReadOnly))
	must(t, err)
	defer d.Close()
	tbl, err := d.GetPartitionTable()
	must(t, err)
	m := tbl.(*mbr.Table)
	if m.Partitions[0].Type != mbr.Fat32LBA || !m.Partitions[0].Bootable || m.Partitions[1].Type != mbr.Linux || m.Partitions[0].Start != 2048 {
		t.Fatalf("partitions: %+v %+v", m.Partitions[0], m.Partitions[1])
	}
	fs, err := d.GetFilesystem(1)
	must(t, err)
	read := func(f string) (string, bool) {
		r, err := fs.OpenFile(f, os.O_RDONLY)
		if err != nil {
			return "", false
		}
		b, _ := io.ReadAll(r)
		return string(b), true
	}
	want := map[string]string{
		"/config.txt":                  "# written by mkimage\nos_prefix=a/\nkernel=vmlinuz\ninitramfs initrd.zst followkernel\n",
		"/a/cmdline.txt":               "console=ttyAMA10,115200 mkimage.data=mkimage-data\n",
		"/a/bcm2712-rpi-5-b.dtb":       "bcm2712-rpi-5-b.dtb",
		"/a/bcm2712-rpi-500.dtb":       "bcm2712-rpi-500.dtb",
		"/a/bcm2712-rpi-cm5-cm5io.dtb": "bcm2712-rpi-cm5-cm5io.dtb",
		"/a/overlays/bcm2712d0.dtbo":   "bcm2712d0.dtbo",
		"/a/overlays/README":           overlaysREADME,
	}
	for f, body := range want {
		if got, ok := read(f); !ok || got != body {
			t.Errorf("%s = %q (present %v), want %q", f, got, ok, body)
		}
	}
	for _, f := range []string{"/bootcode.bin", "/start.elf", "/start4.elf", "/fixup4.dat", "/bcm2712-rpi-5-b.dtb", "/overlays/bcm2712d0.dtbo"} {
		if _, ok := read(f); ok {
			t.Errorf("boot partition has %s", f)
		}
	}
	if got, _ := read("/a/initrd.zst"); len(got) != 600000 {
		t.Errorf("initrd.zst is %d bytes, want 600000", len(got))
	}
}
