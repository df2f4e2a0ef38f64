package flash

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func image(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func TestFlashFile(t *testing.T) {
	img, data := image(t, 3<<20+17)
	dst := filepath.Join(t.TempDir(), "out.img")
	var out bytes.Buffer
	if err := Flash(img, dst, Options{Yes: true, Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) || !strings.Contains(out.String(), "written and verified") {
		t.Fatalf("flashed file differs or no verification line:\n%s", out.String())
	}
	// gzip input, into the directory form's disk.img.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	gzp := img + ".gz"
	os.WriteFile(gzp, gz.Bytes(), 0o644)
	dst2 := filepath.Join(t.TempDir(), "out2.img")
	if err := Flash(gzp, dst2, Options{Yes: true, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst2); !bytes.Equal(got, data) {
		t.Fatal("flashing the .gz gave other bytes")
	}
}

func TestFlashConfirm(t *testing.T) {
	img, _ := image(t, 1<<20)
	dst := filepath.Join(t.TempDir(), "out.img")
	var out bytes.Buffer
	err := Flash(img, dst, Options{In: strings.NewReader("no\n"), Out: &out, Interactive: true})
	if err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("answer no: %v", err)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("wrote despite no")
	}
	if err := Flash(img, dst, Options{Out: &out}); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("no terminal, no --yes: %v", err)
	}
	if err := Flash(img, dst, Options{In: strings.NewReader("yes\n"), Out: &out, Interactive: true}); err != nil {
		t.Fatalf("answer yes: %v", err)
	}
	if err := Flash(img, img, Options{Yes: true, Out: &out}); err == nil || !strings.Contains(err.Error(), "image itself") {
		t.Fatalf("flashing an image onto itself: %v", err)
	}
}

// CheckFree against a fake /proc and /sys: the disk sdz (8:0) with
// partitions sdz1 (8:1) and sdz2 (8:2).
func TestCheckFree(t *testing.T) {
	fake := func(t *testing.T, mountinfo string, holder string) (string, string) {
		proc, sys := t.TempDir(), t.TempDir()
		os.MkdirAll(filepath.Join(proc, "self"), 0o755)
		os.WriteFile(filepath.Join(proc, "self/mountinfo"), []byte(mountinfo), 0o644)
		os.WriteFile(filepath.Join(proc, "swaps"), []byte("Filename Type Size Used Priority\n"), 0o644)
		for i, p := range []string{"sdz1", "sdz2"} {
			d := filepath.Join(sys, "class/block/sdz", p)
			os.MkdirAll(filepath.Join(d, "holders"), 0o755)
			os.WriteFile(filepath.Join(d, "partition"), []byte(fmt.Sprint(i+1)), 0o644)
			os.WriteFile(filepath.Join(d, "dev"), []byte(fmt.Sprintf("8:%d\n", i+1)), 0o644)
		}
		if holder != "" {
			os.MkdirAll(filepath.Join(sys, "class/block/sdz/sdz2/holders", holder), 0o755)
		}
		return proc, sys
	}
	tgt := Target{Path: "/dev/sdz", Block: true, Name: "sdz", Dev: unix.Mkdev(8, 0)}
	const other = "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
	tests := []struct {
		name, mountinfo, holder, want string
	}{
		{"free", other, "", ""},
		{"root on a partition", "22 1 8:2 / / rw - ext4 /dev/sdz2 rw\n", "", "holds the running system"},
		{"partition mounted", other + "30 22 8:1 / /media/sd rw - vfat /dev/sdz1 rw\n", "", "mounted on /media/sd"},
		{"whole disk mounted", other + "30 22 8:0 / /mnt rw - ext4 /dev/sdz rw\n", "", "mounted on /mnt"},
		{"held by device mapper", other, "dm-0", "used by dm-0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc, sys := fake(t, tt.mountinfo, tt.holder)
			err := CheckFree(tgt, proc, sys)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestFlashLoop writes to a loop device (root and a loop driver needed):
// the device's size is checked, the bytes are verified, and a device with
// a mounted partition is refused.
func TestFlashLoop(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root for losetup")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
	backing := filepath.Join(t.TempDir(), "backing")
	if err := os.WriteFile(backing, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device here: %v %s", err, b)
	}
	dev := strings.TrimSpace(string(b))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	tgt, err := Inspect(dev, "/sys")
	if err != nil {
		t.Fatal(err)
	}
	if !tgt.Block || tgt.Size != 8<<20 || !strings.Contains(tgt.Model, "loop device backed by") {
		t.Errorf("inspect: %+v", tgt)
	}
	img, data := image(t, 5<<20)
	var out bytes.Buffer
	if err := Flash(img, dev, Options{Yes: true, Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got, _ := os.ReadFile(backing)
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("the loop device's backing file does not hold the image")
	}
	big, _ := image(t, 9<<20)
	if err := Flash(big, dev, Options{Yes: true, Out: &out}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("image larger than the device: %v", err)
	}
	if err := os.WriteFile(backing, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("mkfs.ext4", "-q", "-F", dev).Run(); err != nil {
		t.Skipf("mkfs.ext4: %v", err)
	}
	mnt := t.TempDir()
	if err := unix.Mount(dev, mnt, "ext4", 0, ""); err != nil {
		t.Skipf("cannot mount here (%v): not checking the refusal of a mounted device", err)
	}
	defer unix.Unmount(mnt, 0)
	if err := Flash(img, dev, Options{Yes: true, Out: &out}); err == nil || !strings.Contains(err.Error(), "mounted on "+mnt) {
		t.Errorf("mounted device: %v", err)
	}
}
