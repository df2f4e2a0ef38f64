package disk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/mkimage/mkimage/board"
)

func fixture(t *testing.T) (kernel, initrd, dir string) {
	t.Helper()
	dir = t.TempDir()
	kernel = filepath.Join(dir, "vmlinuz")
	initrd = filepath.Join(dir, "initrd")
	must(t, os.WriteFile(kernel, bytes.Repeat([]byte("kernel"), 300000), 0o644))
	must(t, os.WriteFile(initrd, bytes.Repeat([]byte("initrd"), 100000), 0o644))
	for _, n := range []string{"bootcode.bin", "start.elf", "fixup.dat", "bcm2710-rpi-3-b.dtb", "bcm2710-rpi-3-b-plus.dtb"} {
		must(t, os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644))
	}
	return kernel, initrd, dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testSpec(t *testing.T, name string) Spec {
	kernel, initrd, dir := fixture(t)
	b, err := board.Lookup(name)
	must(t, err)
	return Spec{Board: b, Kernel: kernel, Initramfs: initrd, Cmdline: "console=ttyS0 mkimage.data=" + DataLabel,
		KernelDir: dir, FirmwareDir: dir, GRUBEFI: []byte("MZ grub efi"), SlotImage: filepath.Join(dir, SlotFile),
		Seed: []byte("seed"), Epoch: 1700000000}
}

func sum(t *testing.T, p string) string {
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	must(t, err)
	return string(h.Sum(nil))
}

// fsck runs fsck.fat and e2fsck read-only on the image's partitions.
func fsck(t *testing.T, img string, lay Layout) {
	t.Helper()
	for _, p := range lay.Partitions {
		if p.FS == "" {
			continue
		}
		part := filepath.Join(t.TempDir(), "part")
		f, err := os.Open(img)
		must(t, err)
		out, err := os.Create(part)
		must(t, err)
		_, err = io.Copy(out, io.NewSectionReader(f, p.Start, p.Size))
		must(t, err)
		f.Close()
		out.Close()
		var cmd *exec.Cmd
		switch p.FS {
		case "fat32":
			cmd = exec.Command("fsck.fat", "-n", part)
		case "ext4":
			cmd = exec.Command("e2fsck", "-fn", part)
		}
		if _, err := exec.LookPath(cmd.Path); err != nil {
			t.Logf("%s not installed: not checking %s", cmd.Args[0], p.Name)
			continue
		}
		if b, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(b), "FAT entries") {
			t.Errorf("%s on partition %s: %v\n%s", cmd.Args[0], p.Name, err, b)
		}
	}
}

func TestPCImage(t *testing.T) {
	s := testSpec(t, "qemu-x86_64")
	s.GRUB = &GRUB{Boot: make([]byte, 512), Core: bytes.Repeat([]byte{0xcc}, 30000)}
	dir := t.TempDir()
	var sums []string
	var lay Layout
	for i := 0; i < 2; i++ {
		p := filepath.Join(dir, "disk"+string(rune('0'+i))+".img")
		var err error
		lay, err = Write(context.Background(), p, s)
		must(t, err)
		sums = append(sums, sum(t, p))
		if i == 0 {
			fsck(t, p, lay)
		}
	}
	if sums[0] != sums[1] {
		t.Error("two builds of the same spec differ")
	}
	s.Seed = []byte("other")
	slotImage := s.SlotImage
	s.SlotImage = filepath.Join(dir, "other-slot.img")
	other := filepath.Join(dir, "other.img")
	if _, err := Write(context.Background(), other, s); err != nil {
		t.Fatal(err)
	}
	s.SlotImage = slotImage
	if sum(t, other) == sums[0] {
		t.Error("another seed gave the same image")
	}
	d, err := diskfs.Open(filepath.Join(dir, "disk0.img"), diskfs.WithOpenMode(diskfs.ReadOnly))
	must(t, err)
	defer d.Close()
	tbl, err := d.GetPartitionTable()
	must(t, err)
	g := tbl.(*gpt.Table)
	if len(g.Partitions) != 5 || g.Partitions[0].Type != gpt.BIOSBoot || g.Partitions[1].Type != gpt.EFISystemPartition ||
		g.Partitions[2].Name != "slot-a" || g.Partitions[3].Name != "slot-b" ||
		g.Partitions[4].Type != gpt.LinuxFilesystem || g.Partitions[4].Name != DataPartName {
		t.Fatalf("partitions: %+v", g.Partitions)
	}
	if g.Partitions[0].Start != 2048 {
		t.Errorf("BIOS boot partition at sector %d", g.Partitions[0].Start)
	}
	esp := readFiles(t, d, 2, "/EFI/BOOT/BOOTX64.EFI", "/grub/grub.cfg", "/grub/grubenv")
	if !strings.Contains(esp["/grub/grub.cfg"], `set args="console=ttyS0 mkimage.data=mkimage-data"`) ||
		!strings.Contains(esp["/grub/grub.cfg"], "set part_a=gpt3\nset part_b=gpt4\n") {
		t.Errorf("grub.cfg:\n%s", esp["/grub/grub.cfg"])
	}
	if env := esp["/grub/grubenv"]; len(env) != 1024 || !strings.Contains(env, "\ncommitted=a\ntrial=\ntried=\n") {
		t.Errorf("grubenv: %q", env)
	}
	slot := readFiles(t, d, 3, "/vmlinuz", "/initrd.zst", "/cmdline.cfg")
	if slot["/cmdline.cfg"] != "# Written by mkimage: this slot's kernel command line.\nset args=\"console=ttyS0 mkimage.data=mkimage-data\"\n" {
		t.Errorf("cmdline.cfg = %q", slot["/cmdline.cfg"])
	}
	kernel, _ := os.ReadFile(s.Kernel)
	if slot["/vmlinuz"] != string(kernel) {
		t.Error("slot a's vmlinuz is not the kernel")
	}
	img, err := os.ReadFile(s.SlotImage)
	must(t, err)
	raw0, err := os.ReadFile(filepath.Join(dir, "disk0.img"))
	must(t, err)
	a, b := lay.Partitions[2], lay.Partitions[3]
	if !bytes.Equal(raw0[a.Start:a.Start+int64(len(img))], img) {
		t.Error("slot a does not hold slot.img")
	}
	if bytes.Count(raw0[b.Start:b.Start+b.Size], []byte{0}) != int(b.Size) {
		t.Error("slot b is not empty")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "disk0.img"))
	must(t, err)
	if binary.LittleEndian.Uint64(raw[0x5c:]) != 2048 || raw[510] != 0x55 || raw[511] != 0xaa {
		t.Error("MBR boot code does not point at core.img or the signature is gone")
	}
	if binary.LittleEndian.Uint64(raw[2048*512+0x1f4:]) != 2049 {
		t.Error("core.img's block list does not start at sector 2049")
	}
}

// readFiles reads files from partition index of d, failing for a missing one.
func readFiles(t *testing.T, d *disk.Disk, index int, names ...string) map[string]string {
	t.Helper()
	fs, err := d.GetFilesystem(index)
	must(t, err)
	out := map[string]string{}
	for _, f := range names {
		r, err := fs.OpenFile(f, os.O_RDONLY)
		if err != nil {
			t.Errorf("partition %d lacks %s: %v", index, f, err)
			continue
		}
		data, _ := io.ReadAll(r)
		out[f] = string(data)
	}
	return out
}

func TestRPiImage(t *testing.T) {
	s := testSpec(t, "rpi3")
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
	if m.Partitions[0].Type != mbr.Fat32LBA || m.Partitions[1].Type != mbr.Linux || m.Partitions[0].Start != 2048 {
		t.Fatalf("partitions: %+v %+v", m.Partitions[0], m.Partitions[1])
	}
	fs, err := d.GetFilesystem(1)
	must(t, err)
	want := map[string]string{
		"/config.txt":            "os_prefix=a/\narm_64bit=1\nenable_uart=1\nkernel=vmlinuz\ninitramfs initrd.zst followkernel\n",
		"/a/cmdline.txt":         "console=ttyS0 mkimage.data=mkimage-data\n",
		"/bootcode.bin":          "bootcode.bin",
		"/a/bcm2710-rpi-3-b.dtb": "bcm2710-rpi-3-b.dtb",
	}
	for f, body := range want {
		r, err := fs.OpenFile(f, os.O_RDONLY)
		if err != nil {
			t.Errorf("boot partition lacks %s: %v", f, err)
			continue
		}
		data, _ := io.ReadAll(r)
		if !strings.Contains(string(data), body) {
			t.Errorf("%s = %q, want it to contain %q", f, data, body)
		}
	}
}

// Every boot partition size used formats cleanly (fsck.fat finds the FAT
// the right size); sizes go-diskfs gets wrong are rejected.
func TestFATSizes(t *testing.T) {
	fsckFAT, err := exec.LookPath("fsck.fat")
	for _, m := range FATSizes {
		if err := CheckFATSize(m); err != nil {
			t.Error(err)
		}
		if fsckFAT == "" {
			continue
		}
		p := filepath.Join(t.TempDir(), "fat")
		f, err := os.Create(p)
		must(t, err)
		must(t, f.Truncate(int64(m)<<20))
		if _, err := fat32.Create(file.New(f, false), int64(m)<<20, 0, 512, "X", true); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out, err := exec.Command(fsckFAT, "-n", p).CombinedOutput()
		if err != nil || strings.Contains(string(out), "FAT entries") {
			t.Errorf("%d MiB: fsck.fat: %v\n%s", m, err, out)
		}
		os.Remove(p)
	}
	if err != nil {
		t.Log("fsck.fat not installed: sizes not checked")
	}
	for _, m := range []int{32, 64, 129, 259, 505, 4096} {
		if CheckFATSize(m) == nil {
			t.Errorf("%d MiB accepted", m)
		}
	}
	if m, err := bootSize(100, 2*60<<20); err != nil || m != 200 {
		t.Errorf("a 60 MiB system got a %d MiB boot partition (%v), want 200", m, err)
	}
	if m, _ := bootSize(200, 1<<20); m != 200 {
		t.Errorf("the board's 200 MiB became %d", m)
	}
	if _, err := bootSize(100, 1200<<20); err == nil {
		t.Error("a 600 MiB system fit")
	}
}

// GRUB's core image names the boot partition by number: the number comes
// from the layout table, not from its callers.
func TestBootIndex(t *testing.T) {
	for name, want := range map[string]int{"qemu-x86_64": 2, "qemu-aarch64": 1, "rpi4": 1, "rpi5": 1} {
		b, err := board.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := BootIndex(b); got != want {
			t.Errorf("%s: boot partition %d, want %d", name, got, want)
		}
	}
}
