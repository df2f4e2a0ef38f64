package disk

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/spec"
)

// piSpec is a Pi's spec with every firmware file, device tree and overlay
// it names (each file's content is its name).
func piSpec(t *testing.T, name string) Spec {
	s := testSpec(t, name)
	d := s.Board.Disk
	must(t, os.MkdirAll(filepath.Join(s.KernelDir, "overlays"), 0o755))
	for _, n := range append(append([]string(nil), d.Firmware...), d.DTBs...) {
		must(t, os.WriteFile(filepath.Join(s.KernelDir, n), []byte(n), 0o644))
	}
	for _, n := range d.Overlays {
		must(t, os.WriteFile(filepath.Join(s.KernelDir, "overlays", n), []byte(n), 0o644))
	}
	return s
}

// A Pi 4 or 5 card: MBR with four partitions, p1 (40 MiB FAT32) holding
// autoboot.txt and the trial marker only, p2 slot a holding slot.img byte
// for byte (firmware where the board has it, device trees, overlays,
// config.txt, cmdline.txt, kernel, initramfs, all at its root), p3 slot b
// as large and empty, p4 data; two builds are equal.
func TestTryBootImage(t *testing.T) {
	for _, c := range []struct {
		board    string
		firmware []string
		config   string
	}{
		{"rpi4", []string{"/fixup4.dat", "/start4.elf"}, "# written by mkimage\narm_64bit=1\nenable_uart=1\nkernel=vmlinuz\ninitramfs initrd.zst followkernel\n"},
		{"rpi5", nil, "# written by mkimage\nkernel=vmlinuz\ninitramfs initrd.zst followkernel\n"},
	} {
		t.Run(c.board, func(t *testing.T) {
			s := piSpec(t, c.board)
			p := filepath.Join(t.TempDir(), "disk.img")
			lay, err := Write(context.Background(), p, s)
			must(t, err)
			fsck(t, p, lay)
			p2 := filepath.Join(t.TempDir(), "again.img")
			s.SlotImage = filepath.Join(t.TempDir(), SlotFile)
			_, err = Write(context.Background(), p2, s)
			must(t, err)
			if sum(t, p) != sum(t, p2) {
				t.Error("two builds of the same spec differ")
			}
			checkTryBootImage(t, s, p, lay, c.firmware, c.config)
		})
	}
}

func checkTryBootImage(t *testing.T, s Spec, p string, lay Layout, firmware []string, config string) {
	d, err := diskfs.Open(p, diskfs.WithOpenMode(diskfs.ReadOnly))
	must(t, err)
	defer d.Close()
	tbl, err := d.GetPartitionTable()
	must(t, err)
	m := tbl.(*mbr.Table)
	var got [][3]int64
	for _, q := range m.Partitions {
		if q.Type != mbr.Empty {
			got = append(got, [3]int64{int64(q.Type), int64(q.Start), int64(q.Size)})
		}
	}
	slot := int64(lay.Partitions[1].Size / sector)
	want := [][3]int64{{int64(mbr.Fat32LBA), 2048, 40 * align}, {int64(mbr.Fat32LBA), 2048 + 40*align, slot},
		{int64(mbr.Fat32LBA), 2048 + 40*align + slot, slot}, {int64(mbr.Linux), 2048 + 40*align + 2*slot, 32 * align}}
	if !reflect.DeepEqual(got, want) || slot < 100*align {
		t.Fatalf("partitions (type, start, sectors) %v, want %v", got, want)
	}
	boot := readFiles(t, d, 1, "/autoboot.txt", "/mkimage-trial.txt")
	if boot["/autoboot.txt"] != "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n" {
		t.Errorf("autoboot.txt = %q", boot["/autoboot.txt"])
	}
	if mk := boot["/mkimage-trial.txt"]; len(mk) != 512 || !strings.Contains(mk, "\nslot=\nboot=\n") {
		t.Errorf("trial marker = %q", mk)
	}
	if names := rootNames(t, d, 1); !slices.Equal(names, []string{"autoboot.txt", "mkimage-trial.txt"}) {
		t.Errorf("partition 1 holds %v", names)
	}
	checkSlotFiles(t, s, d, firmware, config)
	raw, err := os.ReadFile(p)
	must(t, err)
	img, err := os.ReadFile(s.SlotImage)
	must(t, err)
	a, b := lay.Partitions[1], lay.Partitions[2]
	if int64(len(img)) != a.Size || !bytes.Equal(raw[a.Start:a.Start+a.Size], img) {
		t.Errorf("slot a is not slot.img (%d bytes, partition %d)", len(img), a.Size)
	}
	if bytes.Count(raw[b.Start:b.Start+b.Size], []byte{0}) != int(b.Size) {
		t.Error("slot b is not empty")
	}
}

// checkSlotFiles checks slot a's files: everything at the root, the same
// bytes whichever partition holds them (no slot in cmdline.txt).
func checkSlotFiles(t *testing.T, s Spec, d *disk.Disk, firmware []string, config string) {
	dd := s.Board.Disk
	names := append([]string{"/config.txt", "/cmdline.txt", "/vmlinuz", "/initrd.zst"}, firmware...)
	for _, n := range dd.DTBs {
		names = append(names, "/"+n)
	}
	for _, n := range dd.Overlays {
		names = append(names, "/overlays/"+n)
	}
	f := readFiles(t, d, 2, names...)
	kernel, _ := os.ReadFile(s.Kernel)
	initrd, _ := os.ReadFile(s.Initramfs)
	if f["/vmlinuz"] != string(kernel) || f["/initrd.zst"] != string(initrd) {
		t.Error("slot a's kernel or initramfs is not the one built")
	}
	if f["/config.txt"] != config {
		t.Errorf("config.txt = %q, want %q", f["/config.txt"], config)
	}
	if f["/cmdline.txt"] != s.Cmdline+"\n" || strings.Contains(f["/cmdline.txt"], spec.SlotParam) {
		t.Errorf("cmdline.txt = %q", f["/cmdline.txt"])
	}
	for _, n := range names[4:] {
		if f[n] != filepath.Base(n) {
			t.Errorf("%s = %q", n, f[n])
		}
	}
	for _, n := range rootNames(t, d, 2) {
		if n == "a" || strings.HasSuffix(n, ".elf") && len(firmware) == 0 {
			t.Errorf("slot a holds %s", n)
		}
	}
}

func rootNames(t *testing.T, d *disk.Disk, index int) []string {
	t.Helper()
	fs, err := d.GetFilesystem(index)
	must(t, err)
	ents, err := fs.ReadDir(".")
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// The disk code's A/B layouts: GRUB on the PC and UEFI disks, the Pi
// firmware's tryboot on a Pi 4 and 5; a Pi 3 and Zero 2 W keep their
// single boot partition and say why they have no slots.
func TestABOf(t *testing.T) {
	for _, c := range []struct {
		board string
		want  AB
		ok    bool
		why   string
	}{
		{"qemu-x86_64", AB{BootPart: 2, EnvPath: EnvPath, Slots: map[string]int{"a": 3, "b": 4}, SlotBytes: 80 * mib}, true, ""},
		{"qemu-aarch64", AB{BootPart: 1, EnvPath: EnvPath, Slots: map[string]int{"a": 2, "b": 3}, SlotBytes: 100 * mib}, true, ""},
		{"rpi4", AB{BootPart: 1, EnvPath: "/autoboot.txt", Slots: map[string]int{"a": 2, "b": 3}, SlotBytes: 100 * mib, Loader: spec.LoaderTryBoot}, true, ""},
		{"rpi5", AB{BootPart: 1, EnvPath: "/autoboot.txt", Slots: map[string]int{"a": 2, "b": 3}, SlotBytes: 100 * mib, Loader: spec.LoaderTryBoot}, true, ""},
		{"rpi3", AB{}, false, "Pi 3 and the Zero 2 W has no A/B boot partitions"},
		{"rpizero2w", AB{}, false, "use rpi4 or rpi5"},
	} {
		b, err := board.Lookup(c.board)
		must(t, err)
		got, ok := ABOf(b)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v %v, want %+v", c.board, got, ok, c.want)
		}
		if why := NoSlots(b); c.why == "" && why != "" || !strings.Contains(why, c.why) {
			t.Errorf("%s: NoSlots %q, want %q", c.board, why, c.why)
		}
	}
}

// The Pi 3 and Zero 2 W cards keep their layout: two partitions, the
// system under os_prefix a/ on the boot partition.
func TestRPi3Layout(t *testing.T) {
	for _, name := range []string{"rpi3", "rpizero2w"} {
		b, err := board.Lookup(name)
		must(t, err)
		if got := Describe(b); got != "mbr: 1 boot (fat32-lba, at least 200 MiB); 2 data (linux, 32 MiB, grown to the disk's end at first boot)" {
			t.Errorf("%s: %s", name, got)
		}
	}
	b, _ := board.Lookup("rpi4")
	if got := Describe(b); got != "mbr: 1 boot (fat32-lba, 40 MiB); 2 slot-a (fat32-lba, at least 100 MiB); 3 slot-b (fat32-lba, at least 100 MiB); 4 data (linux, 32 MiB, grown to the disk's end at first boot)" {
		t.Errorf("rpi4: %s", got)
	}
}
