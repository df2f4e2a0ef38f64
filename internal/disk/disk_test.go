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
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/mkimage/mkimage/board"
)

// fakeStub is a minimal PE32+ image with one section, enough for BuildUKI.
func fakeStub() []byte {
	b := make([]byte, 0x600)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x80)
	copy(b[0x80:], "PE\x00\x00")
	coff := 0x84
	binary.LittleEndian.PutUint16(b[coff+2:], 1)
	binary.LittleEndian.PutUint16(b[coff+16:], 240)
	opt := coff + 20
	binary.LittleEndian.PutUint16(b[opt:], 0x20b)
	binary.LittleEndian.PutUint32(b[opt+32:], 0x1000)
	binary.LittleEndian.PutUint32(b[opt+36:], 0x200)
	binary.LittleEndian.PutUint32(b[opt+56:], 0x2000)
	binary.LittleEndian.PutUint32(b[opt+60:], 0x400)
	sec := opt + 240
	copy(b[sec:], ".text")
	binary.LittleEndian.PutUint32(b[sec+8:], 0x100)
	binary.LittleEndian.PutUint32(b[sec+12:], 0x1000)
	binary.LittleEndian.PutUint32(b[sec+16:], 0x200)
	binary.LittleEndian.PutUint32(b[sec+20:], 0x400)
	return b
}

func TestBuildUKI(t *testing.T) {
	out, err := BuildUKI(fakeStub(), []UKISection{{".cmdline", []byte("console=ttyS0")}, {".linux", bytes.Repeat([]byte{1}, 5000)}})
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint16(out[0x84+2:]); n != 3 {
		t.Fatalf("sections = %d, want 3", n)
	}
	sec := 0x84 + 20 + 240 + 40
	if name := string(bytes.TrimRight(out[sec:sec+8], "\x00")); name != ".cmdline" {
		t.Fatalf("section 2 is %q", name)
	}
	va := binary.LittleEndian.Uint32(out[sec+12:])
	raw := binary.LittleEndian.Uint32(out[sec+20:])
	if va != 0x2000 || raw%0x200 != 0 || string(out[raw:raw+13]) != "console=ttyS0" {
		t.Fatalf("section 2 at va %#x raw %#x", va, raw)
	}
	linux := sec + 40
	if va2 := binary.LittleEndian.Uint32(out[linux+12:]); va2 != 0x3000 {
		t.Fatalf(".linux at %#x", va2)
	}
	if size := binary.LittleEndian.Uint32(out[0x84+20+56:]); size != 0x5000 {
		t.Fatalf("SizeOfImage %#x", size)
	}
	if _, err := BuildUKI([]byte("nope"), nil); err == nil {
		t.Fatal("a non-PE stub was accepted")
	}
}

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
	stub := filepath.Join(dir, "stub")
	must(t, os.WriteFile(stub, fakeStub(), 0o644))
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
		KernelDir: dir, FirmwareDir: dir, EFIStub: filepath.Join(dir, "stub"), OSRelease: "ID=mkimage\n",
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
	other := filepath.Join(dir, "other.img")
	if _, err := Write(context.Background(), other, s); err != nil {
		t.Fatal(err)
	}
	if sum(t, other) == sums[0] {
		t.Error("another seed gave the same image")
	}
	d, err := diskfs.Open(filepath.Join(dir, "disk0.img"), diskfs.WithOpenMode(diskfs.ReadOnly))
	must(t, err)
	defer d.Close()
	tbl, err := d.GetPartitionTable()
	must(t, err)
	g := tbl.(*gpt.Table)
	if len(g.Partitions) != 3 || g.Partitions[0].Type != gpt.BIOSBoot || g.Partitions[1].Type != gpt.EFISystemPartition ||
		g.Partitions[2].Type != gpt.LinuxFilesystem || g.Partitions[2].Name != DataPartName {
		t.Fatalf("partitions: %+v", g.Partitions)
	}
	if g.Partitions[0].Start != 2048 {
		t.Errorf("BIOS boot partition at sector %d", g.Partitions[0].Start)
	}
	fs, err := d.GetFilesystem(2)
	must(t, err)
	for _, f := range []string{"/EFI/BOOT/BOOTX64.EFI", "/a/vmlinuz", "/a/initrd.zst", "/boot/grub/grub.cfg"} {
		r, err := fs.OpenFile(f, os.O_RDONLY)
		if err != nil {
			t.Errorf("boot partition lacks %s: %v", f, err)
			continue
		}
		data, _ := io.ReadAll(r)
		if f == "/boot/grub/grub.cfg" && !strings.Contains(string(data), "linux /a/vmlinuz console=ttyS0 mkimage.data=mkimage-data") {
			t.Errorf("grub.cfg:\n%s", data)
		}
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
	if m, err := bootSize(100, 60<<20); err != nil || m != 200 {
		t.Errorf("a 60 MiB system got a %d MiB boot partition (%v), want 200", m, err)
	}
	if m, _ := bootSize(200, 1<<20); m != 200 {
		t.Errorf("the board's 200 MiB became %d", m)
	}
	if _, err := bootSize(100, 600<<20); err == nil {
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
