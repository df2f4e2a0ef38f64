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

// needLoop skips without root, losetup or mkfs.ext4, unless the run
// requires every test (./do test sets MKIMAGE_REQUIRE_QEMU=1 and
// MKIMAGE_REQUIRE_PEERS=1, and runs as root): then it fails.
func needLoop(t *testing.T, tools ...string) {
	t.Helper()
	missing := ""
	if os.Getuid() != 0 {
		missing = "root"
	}
	for _, tool := range append([]string{"losetup", "mkfs.ext4"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil && missing == "" {
			missing = tool
		}
	}
	if missing != "" {
		skipOrFail(t, "loop device tests need "+missing)
	}
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("MKIMAGE_REQUIRE_QEMU") == "1" || os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s (required: MKIMAGE_REQUIRE_QEMU/PEERS=1)", why)
	}
	t.Skip(why)
}

// backingFile makes a file of size bytes filled with 0xA5, so that any
// byte written to it shows.
func backingFile(t *testing.T, size int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "backing")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0xA5}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func untouched(t *testing.T, p string) {
	t.Helper()
	b, _ := os.ReadFile(p)
	if len(b) == 0 || !bytes.Equal(b, bytes.Repeat([]byte{0xA5}, len(b))) {
		t.Errorf("%s was written to", p)
	}
}

// attach makes a loop device of backing (losetup -f --show ARGS backing).
// Cleanup detaches it only while it is still backed by one of this test's
// files (a test may re-attach it to another): a device flash let go of may
// belong to someone else by then.
func attach(t *testing.T, backing string, args ...string) string {
	t.Helper()
	b, err := exec.Command("losetup", append(append([]string{"-f", "--show"}, args...), backing)...).CombinedOutput()
	if err != nil {
		skipOrFail(t, "no loop device here: "+err.Error()+" "+string(b))
	}
	dev := strings.TrimSpace(string(b))
	root := filepath.Dir(t.TempDir()) // holds every t.TempDir of this test
	t.Cleanup(func() {
		now, _ := os.ReadFile("/sys/block/" + filepath.Base(dev) + "/loop/backing_file")
		if strings.HasPrefix(strings.TrimSpace(string(now)), root+"/") {
			exec.Command("losetup", "-d", dev).Run()
		}
	})
	return dev
}

// atPrompt answers yes after running fn, which sees the state flash is
// in while it waits for the user.
type atPrompt struct {
	fn  func()
	ran bool
	r   io.Reader
}

func (a *atPrompt) Read(b []byte) (int, error) {
	if !a.ran {
		a.ran = true
		a.fn()
		a.r = strings.NewReader("yes\n")
	}
	return a.r.Read(b)
}

func mountExt4(t *testing.T, dev string) string {
	t.Helper()
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %s: %v %s", dev, err, out)
	}
	mnt := t.TempDir()
	if err := unix.Mount(dev, mnt, "ext4", 0, ""); err != nil {
		skipOrFail(t, "cannot mount here: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(mnt, 0) })
	return mnt
}

// fakeProc is a /proc with nothing mounted and no swap: what flash sees
// there cannot refuse a device, so only the kernel's exclusive open can.
func fakeProc(t *testing.T) string {
	p := t.TempDir()
	os.MkdirAll(filepath.Join(p, "self"), 0o755)
	os.WriteFile(filepath.Join(p, "self/mountinfo"), nil, 0o644)
	os.WriteFile(filepath.Join(p, "swaps"), []byte("Filename Type Size Used Priority\n"), 0o644)
	return p
}
