package slots_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/disk"
	"github.com/mkimage/mkimage/updater/slots"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// piImage writes an rpi4 disk image whose kernel is kernel into dir.
func piImage(t *testing.T, dir, kernel string) (string, disk.Layout) {
	b, err := board.Lookup("rpi4")
	must(t, err)
	in := t.TempDir()
	for _, n := range append(append([]string{}, b.Disk.Firmware...), b.Disk.DTBs...) {
		must(t, os.WriteFile(filepath.Join(in, n), []byte(n), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(in, "vmlinuz"), bytes.Repeat([]byte(kernel), 100000), 0o644))
	must(t, os.WriteFile(filepath.Join(in, "initrd"), bytes.Repeat([]byte("initrd"), 100000), 0o644))
	img := filepath.Join(dir, "disk.img")
	lay, err := disk.Write(context.Background(), img, disk.Spec{Board: b, Kernel: filepath.Join(in, "vmlinuz"),
		Initramfs: filepath.Join(in, "initrd"), Cmdline: "console=ttyS0,115200 mkimage.data=mkimage-data",
		KernelDir: in, FirmwareDir: in, SlotImage: filepath.Join(dir, disk.SlotFile), Seed: []byte("pi"), Epoch: 1700000000})
	must(t, err)
	return img, lay
}

// An update of a Pi 4 card, byte by byte: the new slot.img streamed into
// p3 at its offset, then the commit's rewrite of autoboot.txt where the
// file's bytes are in p1 (what the guest's in-place write does). The
// card then boots slot b; nothing else on it changed. Without the commit
// (a power cut before it) the card still boots slot a.
func TestUpdateImage(t *testing.T) {
	v1, v2 := t.TempDir(), t.TempDir()
	img, lay := piImage(t, v1, "kernel-v1")
	_, _ = piImage(t, v2, "kernel-v2")
	p1, p2, p3 := lay.Partitions[0], lay.Partitions[1], lay.Partitions[2]
	upd := filepath.Join(t.TempDir(), "card.img")
	copyFile(t, img, upd)
	slot, err := os.ReadFile(filepath.Join(v2, disk.SlotFile))
	must(t, err)
	if int64(len(slot)) != p3.Size {
		t.Fatalf("slot.img is %d bytes, slot b %d", len(slot), p3.Size)
	}
	f, err := os.OpenFile(upd, os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt(slot, p3.Start)
	must(t, err)
	if got := committed(t, upd); got != 2 {
		t.Errorf("before the commit the card boots partition %d", got)
	}
	newBytes := commitOnPi(t, readFile(t, upd, 1, "/"+slots.AutobootFile), readFile(t, upd, 1, "/"+slots.TrialFile))
	off := find(t, f, p1, slots.Autoboot(2, 3))
	_, err = f.WriteAt(newBytes, off)
	must(t, err)
	must(t, f.Close())

	if got := committed(t, upd); got != 3 {
		t.Errorf("after the commit the card boots partition %d, want 3", got)
	}
	if k := readFile(t, upd, 3, "/vmlinuz"); !bytes.HasPrefix(k, []byte("kernel-v2")) {
		t.Errorf("slot b's kernel starts %q", k[:9])
	}
	if k := readFile(t, upd, 2, "/vmlinuz"); !bytes.HasPrefix(k, []byte("kernel-v1")) {
		t.Errorf("slot a's kernel starts %q", k[:9])
	}
	if a, b := readFile(t, upd, 2, "/cmdline.txt"), readFile(t, upd, 3, "/cmdline.txt"); !bytes.Equal(a, b) {
		t.Errorf("the slots' cmdline.txt differ: %q %q", a, b)
	}
	changed := diffRanges(t, img, upd)
	want := [][2]int64{{off, off + int64(len(newBytes))}, {p3.Start, p3.Start + p3.Size}}
	inAutoboot := 0
	for _, r := range changed {
		switch {
		case r[0] >= want[0][0] && r[1] <= want[0][1]:
			inAutoboot++
		case r[0] < want[1][0] || r[1] > want[1][1]:
			t.Errorf("bytes %d-%d changed (p1 %d, p2 %d, p3 %d)", r[0], r[1], p1.Start, p2.Start, p3.Start)
		}
	}
	if inAutoboot != 2 { // the two partition numbers
		t.Errorf("%d changes in autoboot.txt, want 2: %v", inAutoboot, changed)
	}
	fsckFAT(t, upd, p1)
	fsckFAT(t, upd, p3)
	// The card as the guest sees it at its next (plain) boot.
	tb := mounted(t, upd, 3, false)
	st, err := tb.State()
	must(t, err)
	running, err := tb.Running()
	must(t, err)
	if trial, failed := slots.AtBoot(running, st); running != "b" || st.Committed != "b" || trial || failed != "" {
		t.Errorf("next boot: running %s, %+v, trial %v, failed %q", running, st, trial, failed)
	}
}

// commitOnPi runs an update's state changes on a copy of p1's files: Arm
// on the old system, a tryboot of slot b, Commit there. It returns the
// new autoboot.txt, as long as the old one, and checks the marker ends as
// it began.
func commitOnPi(t *testing.T, autoboot, marker []byte) []byte {
	tb := slots.TryBoot{Dir: t.TempDir(), DT: t.TempDir(), Slots: map[string]int{"a": 2, "b": 3}, Boot: "1"}
	must(t, os.WriteFile(filepath.Join(tb.Dir, slots.AutobootFile), autoboot, 0o644))
	must(t, os.WriteFile(filepath.Join(tb.Dir, slots.TrialFile), marker, 0o644))
	must(t, tb.Arm("b"))
	setDT(t, tb.DT, 3, true)
	tb.Boot = "2"
	st, err := tb.State()
	if err != nil || st.Tried != "b" {
		t.Fatalf("the tryboot: %+v %v", st, err)
	}
	must(t, tb.Commit("b"))
	after, err := os.ReadFile(filepath.Join(tb.Dir, slots.AutobootFile))
	must(t, err)
	if !bytes.Equal(after, slots.Autoboot(3, 2)) || len(after) != len(autoboot) {
		t.Fatalf("autoboot.txt after the commit: %q", after)
	}
	if m, _ := os.ReadFile(filepath.Join(tb.Dir, slots.TrialFile)); !bytes.Equal(m, marker) {
		t.Errorf("the marker after the commit: %q", m)
	}
	return after
}

func setDT(t *testing.T, dir string, part int, tryboot bool) {
	flag := uint32(0)
	if tryboot {
		flag = 1
	}
	must(t, os.WriteFile(filepath.Join(dir, "partition"), binary.BigEndian.AppendUint32(nil, uint32(part)), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "tryboot"), binary.BigEndian.AppendUint32(nil, flag), 0o644))
}

// mounted is a TryBoot over p1's files read from img, booted from part.
func mounted(t *testing.T, img string, part int, tryboot bool) slots.TryBoot {
	tb := slots.TryBoot{Dir: t.TempDir(), DT: t.TempDir(), Slots: map[string]int{"a": 2, "b": 3}, Boot: "next"}
	for _, n := range []string{slots.AutobootFile, slots.TrialFile} {
		must(t, os.WriteFile(filepath.Join(tb.Dir, n), readFile(t, img, 1, "/"+n), 0o644))
	}
	setDT(t, tb.DT, part, tryboot)
	return tb
}

// committed is the partition autoboot.txt boots normally.
func committed(t *testing.T, img string) int {
	n, _, err := slots.ParseAutoboot(readFile(t, img, 1, "/"+slots.AutobootFile))
	must(t, err)
	return n
}

func readFile(t *testing.T, img string, part int, name string) []byte {
	t.Helper()
	d, err := diskfs.Open(img, diskfs.WithOpenMode(diskfs.ReadOnly))
	must(t, err)
	defer d.Close()
	fs, err := d.GetFilesystem(part)
	must(t, err)
	r, err := fs.OpenFile(name, os.O_RDONLY)
	must(t, err)
	b, err := io.ReadAll(r)
	must(t, err)
	return b
}

// find returns the offset of the only copy of b in partition p of f.
func find(t *testing.T, f *os.File, p disk.Partition, b []byte) int64 {
	buf := make([]byte, p.Size)
	_, err := f.ReadAt(buf, p.Start)
	must(t, err)
	i := bytes.Index(buf, b)
	if i < 0 || bytes.Count(buf, b) != 1 {
		t.Fatalf("%d copies of %q in the partition", bytes.Count(buf, b), b)
	}
	return p.Start + int64(i)
}

// diffRanges lists the 4 KiB blocks that differ between two files of one size.
func diffRanges(t *testing.T, a, b string) [][2]int64 {
	fa, err := os.Open(a)
	must(t, err)
	defer fa.Close()
	fb, err := os.Open(b)
	must(t, err)
	defer fb.Close()
	var out [][2]int64
	ba, bb := make([]byte, 4096), make([]byte, 4096)
	for off := int64(0); ; off += 4096 {
		na, _ := io.ReadFull(fa, ba)
		nb, _ := io.ReadFull(fb, bb)
		if na != nb {
			t.Fatalf("the images differ in size at %d", off)
		}
		if na == 0 {
			return out
		}
		for i := 0; i < na; i++ {
			if ba[i] != bb[i] {
				j := i
				for j < na && ba[j] != bb[j] {
					j++
				}
				out = append(out, [2]int64{off + int64(i), off + int64(j)})
				i = j
			}
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	in, err := os.Open(from)
	must(t, err)
	defer in.Close()
	out, err := os.Create(to)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}

// fsckFAT checks partition p of img with fsck.fat, when installed.
func fsckFAT(t *testing.T, img string, p disk.Partition) {
	fsck, err := exec.LookPath("fsck.fat")
	if err != nil {
		t.Log("fsck.fat not installed")
		return
	}
	part := filepath.Join(t.TempDir(), "part")
	in, err := os.Open(img)
	must(t, err)
	defer in.Close()
	out, err := os.Create(part)
	must(t, err)
	_, err = io.Copy(out, io.NewSectionReader(in, p.Start, p.Size))
	must(t, err)
	must(t, out.Close())
	if b, err := exec.Command(fsck, "-n", part).CombinedOutput(); err != nil {
		t.Errorf("fsck.fat on %s: %v\n%s", p.Name, err, b)
	}
}
