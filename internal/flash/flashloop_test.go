package flash

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFlashLoop writes to loop devices (root and a loop driver needed):
// the size is checked (a .gz by counting), the bytes are verified.
func TestFlashLoop(t *testing.T) {
	needLoop(t)
	backing := backingFile(t, 8<<20)
	dev := attach(t, backing)
	img, data := image(t, 5<<20)
	var out bytes.Buffer
	if err := Flash(img, dev, Options{Yes: true, Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "loop device backed by "+backing) || !strings.Contains(out.String(), "8.0 MiB") {
		t.Errorf("the target line does not show the device:\n%s", out.String())
	}
	got, _ := os.ReadFile(backing)
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("the loop device's backing file does not hold the image")
	}

	t.Run("larger than the device", func(t *testing.T) {
		backing := backingFile(t, 8<<20)
		dev := attach(t, backing)
		big, _ := image(t, 9<<20)
		if err := Flash(big, dev, Options{Yes: true, Out: io.Discard}); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("image larger than the device: %v", err)
		}
		untouched(t, backing)
	})
	// The trailer of a 4 GiB + 1 MiB .gz says 1 MiB: refused before
	// anything is written, after decompressing only 8 MiB.
	t.Run("gzip over 4 GiB", func(t *testing.T) {
		backing := backingFile(t, 8<<20)
		dev := attach(t, backing)
		gz := zerosGzip(t, 4096+1)
		err := Flash(gz, dev, Options{Yes: true, Out: io.Discard})
		if err == nil || !strings.Contains(err.Error(), "larger than") || !strings.Contains(err.Error(), "nothing was written") {
			t.Errorf("4 GiB + 1 MiB .gz onto 8 MiB: %v", err)
		}
		untouched(t, backing)
	})
}

// A device in use is refused by the kernel's exclusive open before the
// prompt, even where /proc shows nothing, and nothing can mount the device
// while flash holds it.
func TestFlashLoopExclusive(t *testing.T) {
	needLoop(t)
	img, _ := image(t, 1<<20)
	noPrompt := func(t *testing.T) *atPrompt {
		return &atPrompt{fn: func() { t.Error("asked to confirm a device in use") }}
	}
	t.Run("mounted", func(t *testing.T) {
		dev := attach(t, backingFile(t, 8<<20))
		mnt := mountExt4(t, dev)
		err := Flash(img, dev, Options{In: noPrompt(t), Out: io.Discard, Interactive: true})
		if err == nil || !strings.Contains(err.Error(), "mounted on "+mnt) {
			t.Errorf("mounted device: %v", err)
		}
		err = Flash(img, dev, Options{In: noPrompt(t), Out: io.Discard, Interactive: true, Proc: fakeProc(t)})
		if err == nil || !strings.Contains(err.Error(), "the kernel reports it in use") {
			t.Errorf("mounted device, /proc showing nothing: %v", err)
		}
	})
	t.Run("no mount while held", func(t *testing.T) {
		backing := backingFile(t, 8<<20)
		dev := attach(t, backing)
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", dev).CombinedOutput(); err != nil {
			t.Fatalf("mkfs.ext4: %v %s", err, out)
		}
		mnt := t.TempDir()
		var mountErr error
		at := &atPrompt{fn: func() {
			if mountErr = unix.Mount(dev, mnt, "ext4", 0, ""); mountErr == nil {
				unix.Unmount(mnt, 0)
			}
		}}
		if err := Flash(img, dev, Options{In: at, Out: io.Discard, Interactive: true}); err != nil {
			t.Fatal(err)
		}
		if !at.ran || mountErr == nil {
			t.Errorf("mounting the device while flash waited at the prompt: ran %v, %v", at.ran, mountErr)
		}
	})
}

// What is written is what was shown: a device re-attached to another file
// or resized while flash waits at the prompt does not get the image.
func TestFlashLoopIdentity(t *testing.T) {
	needLoop(t)
	img, data := image(t, 5<<20)
	t.Run("re-attached at the prompt", func(t *testing.T) {
		backing, other := backingFile(t, 8<<20), backingFile(t, 8<<20)
		dev := attach(t, backing)
		var reattach []byte
		at := &atPrompt{fn: func() {
			exec.Command("losetup", "-d", dev).Run()
			reattach, _ = exec.Command("losetup", dev, other).CombinedOutput()
		}}
		err := Flash(img, dev, Options{In: at, Out: io.Discard, Interactive: true})
		t.Logf("flash: %v; re-attaching %s to another file: %s", err, dev, reattach)
		untouched(t, other)
		if got, _ := os.ReadFile(backing); err == nil && !bytes.Equal(got[:len(data)], data) {
			t.Error("flash succeeded but the device shown does not hold the image")
		}
	})
	t.Run("resized at the prompt", func(t *testing.T) {
		backing := backingFile(t, 8<<20)
		dev := attach(t, backing)
		at := &atPrompt{fn: func() {
			os.Truncate(backing, 6<<20)
			if out, err := exec.Command("losetup", "-c", dev).CombinedOutput(); err != nil {
				t.Errorf("losetup -c: %v %s", err, out)
			}
		}}
		err := Flash(img, dev, Options{In: at, Out: io.Discard, Interactive: true})
		if err == nil || !strings.Contains(err.Error(), "changed while waiting for the answer") {
			t.Errorf("resized at the prompt: %v", err)
		}
		untouched(t, backing)
	})
}

// A btrfs filesystem shows an anonymous device number in mountinfo:
// CheckFree still finds the device it is on. (This machine's kernel reads
// no partition tables, so the filesystem is on the whole loop device; the
// partition case is TestCheckFree's, on a fake /sys.)
func TestFlashLoopBtrfs(t *testing.T) {
	needLoop(t, "mkfs.btrfs")
	backing := filepath.Join(t.TempDir(), "backing")
	if err := os.WriteFile(backing, nil, 0o644); err != nil || os.Truncate(backing, 256<<20) != nil {
		t.Fatal(err)
	}
	dev := attach(t, backing)
	if out, err := exec.Command("mkfs.btrfs", "-q", "-f", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.btrfs: %v %s", err, out)
	}
	mnt := t.TempDir()
	if err := unix.Mount(dev, mnt, "btrfs", 0, ""); err != nil {
		skipOrFail(t, "cannot mount btrfs here: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(mnt, 0) })
	var st unix.Stat_t
	unix.Stat(dev, &st)
	tgt := Target{Path: dev, Block: true, Name: strings.TrimPrefix(dev, "/dev/"), Dev: uint64(st.Rdev)}
	if err := CheckFree(tgt, "/proc", "/sys"); err == nil || !strings.Contains(err.Error(), tgt.Name+" is mounted on "+mnt) {
		t.Errorf("btrfs: %v", err)
	}
}
