package qemutests

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"

	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/qemu"
	"github.com/mkimage/mkimage/spec"
)

// Bad updates' helpers: damaged bundles, a slot image whose initramfs is
// cut short, a second signing key.

// truncateInitrd rewrites initrd.zst in the image's slot image (a FAT
// filesystem, through go-diskfs) at half its length, and the manifest's
// size and hash of the slot image to match, so that `mkimage update DIR`
// signs it as it is: a validly signed bundle whose initramfs the kernel
// cannot unpack. It returns the old and the new length.
func truncateInitrd(t *testing.T, img string) (int, int) {
	t.Helper()
	m, err := manifest.Read(img)
	if err != nil {
		t.Fatal(err)
	}
	if m.Slot == nil {
		t.Fatalf("%s has no slot image", img)
	}
	const name = "/initrd.zst"
	d, err := diskfs.Open(filepath.Join(img, m.Slot.Name), diskfs.WithOpenMode(diskfs.ReadWrite))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := d.GetFilesystem(0)
	if err != nil {
		t.Fatalf("the slot image's filesystem: %v", err)
	}
	read := func() []byte {
		f, err := fs.OpenFile(name, os.O_RDONLY)
		if err != nil {
			t.Fatalf("opening %s in the slot image: %v", name, err)
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			t.Fatalf("reading %s in the slot image: %v", name, err)
		}
		return b
	}
	whole := read()
	f, err := fs.OpenFile(name, os.O_RDWR|os.O_TRUNC)
	if err != nil {
		t.Fatalf("truncating %s in the slot image: %v", name, err)
	}
	half := whole[:len(whole)/2]
	if _, err := f.Write(half); err != nil {
		t.Fatalf("writing %s in the slot image: %v", name, err)
	}
	must(t, f.Close())
	if got := read(); !bytes.Equal(got, half) {
		t.Fatalf("%s in the slot image holds %d bytes after the rewrite, want its first %d", name, len(got), len(half))
	}
	must(t, d.Close())
	desc, err := manifest.Describe(img, m.Slot.Name)
	if err != nil {
		t.Fatal(err)
	}
	m.Slot = &desc
	must(t, m.Write(img))
	return len(whole), len(half)
}

// damagedBundles makes the signed bundle of img at dir/good.mkup and two
// damaged copies: dir/truncated.mkup, its first half, and
// dir/flipped.mkup, with one byte of the payload (three quarters into
// the file) inverted. It returns the three paths.
func damagedBundles(t *testing.T, env []string, img, dir string) (good, truncated, flipped string) {
	t.Helper()
	good = filepath.Join(dir, "good.mkup")
	if msg, code := run(t, env, "update", img, "--bundle", good); code != 0 {
		t.Fatalf("making the bundle of %s: exit %d\n%s", img, code, msg)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated = filepath.Join(dir, "truncated.mkup")
	must(t, os.WriteFile(truncated, b[:len(b)/2], 0o644))
	// The payload follows the 9-byte prefix, the header (its length is
	// in bytes 5-8) and the 72-byte key id and signature.
	if len(b) < 9 {
		t.Fatalf("the bundle is %d bytes", len(b))
	}
	at := len(b) * 3 / 4
	if payload := 9 + int(binary.BigEndian.Uint32(b[5:9])) + 72; at < payload {
		t.Fatalf("byte %d of the %d-byte bundle is not in its payload (from byte %d)", at, len(b), payload)
	}
	c := bytes.Clone(b)
	c[at] ^= 0xff
	flipped = filepath.Join(dir, "flipped.mkup")
	must(t, os.WriteFile(flipped, c, 0o644))
	return good, truncated, flipped
}

// newKey makes a second signing key in its own directory (mkimage keygen
// -o DIR) and returns the directory and its public key line.
func newKey(t *testing.T, env []string) (dir, pub string) {
	t.Helper()
	dir = t.TempDir()
	if msg, code := run(t, env, "keygen", "-o", dir); code != 0 {
		t.Fatalf("keygen -o: exit %d\n%s", code, msg)
	}
	b, err := os.ReadFile(filepath.Join(dir, "update.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, strings.TrimSpace(string(b))
}

// rebootLine is a console line that only a shutdown or a boot prints.
var rebootLine = regexp.MustCompile(`^init: (shutdown|ready)|Linux version|mkimage: booting slot`)

// consoleMatchesFrom returns the first line after the first from that
// matches re, or "".
func consoleMatchesFrom(c *Console, from int, re *regexp.Regexp) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines[min(from, len(c.lines)):] {
		if re.MatchString(l) {
			return l
		}
	}
	return ""
}

// consoleFrom is the console after the first from lines, each line
// preceded by a newline.
func consoleFrom(c *Console, from int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, l := range c.lines[min(from, len(c.lines)):] {
		b.WriteString("\n" + l)
	}
	return b.String()
}

// rollBack goes on with an appliance on 1.2.0 that replaced 1.1.0: the
// status and the status page say 1.1.0 is in the other slot; a rollback
// signed by a key the appliance does not trust is refused; one signed by
// keyDir's key boots 1.1.0 as a trial, which commits, and its app is told
// it replaced 1.2.0.
func rollBack(t *testing.T, env []string, g *Guest, to, keyDir string) {
	if msg, code := run(t, env, "update", "--to", to, "--status"); code != 0 || !strings.Contains(msg, "previous  1.1.0 in the other slot") {
		t.Errorf("status before the rollback: exit %d\n%s", code, msg)
	}
	var page struct{ Update *spec.UpdateReport }
	must(t, json.Unmarshal(get(t, g.URL+".status.json", qemu.Scaled(30*time.Second)), &page))
	if u := page.Update; u == nil || u.Version != "1.2.0" || u.Replaced != "1.1.0" || u.Previous != "1.1.0" || u.Last == nil || u.Last.Result != spec.TrialCommitted {
		t.Errorf("the status page's update section: %+v", u)
	}
	if msg, code := run(t, env, "update", "--to", to, "--rollback"); code == 0 || !strings.Contains(msg, "not signed by a key this appliance trusts") {
		t.Errorf("a rollback signed by the old key: exit %d\n%s", code, msg)
	}
	start := time.Now()
	msg, code := run(t, env, "update", "--to", to, "--rollback", "--key", filepath.Join(keyDir, "update.key"))
	if code != 0 || !strings.Contains(msg, "going back to version 1.1.0") || !strings.Contains(msg, "committed version 1.1.0") {
		t.Fatalf("rollback: exit %d\n%s", code, msg)
	}
	t.Logf("the rollback to 1.1.0 committed after %.1f s", time.Since(start).Seconds())
	if n := notes(t, g, ""); n.Version != "1.1.0" || n.Note != "written by 1.0.0" || n.Previous != "1.2.0" {
		t.Errorf("after the rollback: %+v", n)
	}
}
