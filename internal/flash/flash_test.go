package flash

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
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
		// btrfs reports an anonymous device number: found by its source.
		{"btrfs on a partition", other + "40 22 0:45 / /srv rw,relatime shared:5 - btrfs /dev/sdz2 rw,subvolid=5,subvol=/\n", "", "/dev/sdz2 is mounted on /srv"},
		{"btrfs root", "22 1 0:31 /@ / rw - btrfs /dev/sdz1 rw,subvol=/@\n", "", "holds the running system"},
		{"escaped mount point", other + "30 22 8:1 / /media/my\\040card rw - vfat /dev/sdz1 rw\n", "", "mounted on /media/my card"},
		{"other device, anonymous number", other + "40 22 0:45 / /srv rw - btrfs /dev/sdy2 rw\n", "", ""},
		{"network source", other + "40 22 0:46 / /net rw - nfs4 sdz1:/export rw\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc, sys := fake(t, tt.mountinfo, tt.holder)
			os.WriteFile(filepath.Join(proc, "swaps"), []byte("Filename Type Size Used Priority\n"), 0o644)
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

// CheckFree finds a partition by its name where the device number cannot
// tell: a member of a btrfs filesystem mounted from another device, swap
// named by a path.
func TestCheckFreeByName(t *testing.T) {
	proc, sys := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	os.WriteFile(filepath.Join(proc, "self/mountinfo"), []byte("22 1 0:31 / / rw - btrfs /dev/sdy1 rw\n"), 0o644)
	d := filepath.Join(sys, "class/block/sdz/sdz1")
	os.MkdirAll(filepath.Join(d, "holders"), 0o755)
	os.WriteFile(filepath.Join(d, "partition"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(d, "dev"), []byte("8:1\n"), 0o644)
	tgt := Target{Path: "/dev/sdz", Block: true, Name: "sdz", Dev: unix.Mkdev(8, 0)}
	swaps := filepath.Join(proc, "swaps")
	os.WriteFile(swaps, []byte("Filename Type Size Used Priority\n/dev/sdz1 partition 1024 0 -2\n"), 0o644)
	if err := CheckFree(tgt, proc, sys); err == nil || !strings.Contains(err.Error(), "/dev/sdz1 is swap") {
		t.Errorf("swap partition: %v", err)
	}
	os.WriteFile(swaps, []byte("Filename Type Size Used Priority\n"), 0o644)
	btrfs := filepath.Join(sys, "fs/btrfs/0f1e2d3c-uuid/devices")
	os.MkdirAll(btrfs, 0o755)
	os.Symlink("../../../../devices/virtual/block/sdy1", filepath.Join(btrfs, "sdy1"))
	if err := CheckFree(tgt, proc, sys); err != nil {
		t.Errorf("btrfs on another disk only: %v", err)
	}
	os.Symlink("../../../../devices/virtual/block/sdz/sdz1", filepath.Join(btrfs, "sdz1"))
	if err := CheckFree(tgt, proc, sys); err == nil || !strings.Contains(err.Error(), "/dev/sdz1 is part of the mounted btrfs filesystem 0f1e2d3c-uuid") {
		t.Errorf("second device of a btrfs filesystem: %v", err)
	}
}

// A target that does not exist under /dev is refused and not created
// (opening it would make a file in RAM); elsewhere it is created.
func TestFlashMissingDevPath(t *testing.T) {
	img, data := image(t, 1<<20)
	link := filepath.Join(t.TempDir(), "devlink")
	if err := os.Symlink("/dev", link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/mkimage-flash-test-sdq", filepath.Join(link, "mkimage-flash-test-sdq")} {
		var out bytes.Buffer
		err := Flash(img, p, Options{Yes: true, Out: &out})
		if _, serr := os.Lstat("/dev/mkimage-flash-test-sdq"); serr == nil {
			os.Remove("/dev/mkimage-flash-test-sdq")
			t.Errorf("%s: created a file under /dev", p)
		}
		if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "existing whole device") {
			t.Errorf("%s: %v", p, err)
		}
	}
	dst := filepath.Join(t.TempDir(), "new.img")
	if err := Flash(img, dst, Options{Yes: true, Out: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("a new file outside /dev was not created with the image")
	}
}

// Flashing holds at most a few MiB whatever the image's size: the copy
// buffer (copyBuf, 4 MiB) and a gzip reader's window. Bound: 12 MiB
// allocated in total for a 64 MiB .gz measured, written and read back.
func TestFlashBoundedMemory(t *testing.T) {
	gz := zerosGzip(t, 64)
	dst := filepath.Join(t.TempDir(), "out.img")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := Flash(gz, dst, Options{Yes: true, Out: io.Discard}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes", got)
	if got > 12<<20 {
		t.Errorf("flashing a 64 MiB image allocated %d bytes, bound 12 MiB", got)
	}
	if st, _ := os.Stat(dst); st.Size() != 64<<20 {
		t.Errorf("wrote %d bytes", st.Size())
	}
}

// A file target is held too: replaced at the prompt, or created there by
// someone else, it is not written.
func TestFlashFileChangedAtPrompt(t *testing.T) {
	img, _ := image(t, 1<<20)
	dir := t.TempDir()
	dst, theirs := filepath.Join(dir, "out.img"), []byte("someone else's file")
	os.WriteFile(dst, []byte("old"), 0o644)
	replace := &atPrompt{fn: func() {
		os.Rename(dst, dst+".moved")
		os.WriteFile(dst, theirs, 0o644)
	}}
	err := Flash(img, dst, Options{In: replace, Out: io.Discard, Interactive: true})
	if err == nil || !strings.Contains(err.Error(), "now names another file") {
		t.Errorf("replaced at the prompt: %v", err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, theirs) {
		t.Errorf("the file now at the path was written: %.40q", got)
	}
	if got, _ := os.ReadFile(dst + ".moved"); string(got) != "old" {
		t.Errorf("the file shown was emptied or written although refused: %.40q", got)
	}
	fresh := filepath.Join(dir, "new.img")
	appear := &atPrompt{fn: func() { os.WriteFile(fresh, theirs, 0o644) }}
	err = Flash(img, fresh, Options{In: appear, Out: io.Discard, Interactive: true})
	if err == nil || !strings.Contains(err.Error(), "file exists") {
		t.Errorf("created by someone else at the prompt: %v", err)
	}
	if got, _ := os.ReadFile(fresh); !bytes.Equal(got, theirs) {
		t.Errorf("a file that appeared at the prompt was overwritten: %.40q", got)
	}
}
