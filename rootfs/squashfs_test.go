package rootfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// squashOptions is an image with what a squashfs root must carry over from
// the cpio: a tree with awkward names, a secret with its own owner and
// mode, a symlink, the sticky /tmp, device nodes and the end marker.
func squashOptions(t *testing.T) Options {
	tree := testTree(t)
	for _, name := range []string{"a b.html", `q"uo\te.html`} {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Options{
		Trees: []Tree{{Source: tree, Target: "/srv/www"}},
		Files: []File{
			{Target: "/etc/secret", Data: []byte("key"), Mode: 0o600},
			{Target: "/etc/resolv.conf", Link: "/run/resolv.conf"},
		},
		Perms:     []Perm{{Path: "/etc/secret", UID: 0, GID: 33, Mode: 0o640}},
		MTime:     1234,
		EndMarker: "/etc/end",
		WorkDir:   t.TempDir(),
	}
}

// TestSquashfsMatchesCPIO builds the same image both ways and checks that
// every cpio record is in the squashfs with the same type, mode, owner,
// size and contents (or symlink target), and that the squashfs is the
// same bytes twice.
func TestSquashfsMatchesCPIO(t *testing.T) {
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mksquashfs is missing (squashfs-tools)")
		}
		t.Skip("mksquashfs is missing (squashfs-tools)")
	}
	o := squashOptions(t)
	recs := records(t, build(t, o))
	o.Squashfs = true
	img := build(t, o)
	if again := build(t, squashOptionsLike(t, o)); !bytes.Equal(img, again) {
		t.Error("two squashfs builds of the same image differ")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "root.squashfs")
	if err := os.WriteFile(file, img, 0o644); err != nil {
		t.Fatal(err)
	}
	list := listSquashfs(t, file)
	out := filepath.Join(dir, "x")
	if msg, err := exec.Command("unsquashfs", "-d", out, "-no-xattrs", file).CombinedOutput(); err != nil {
		t.Fatalf("unsquashfs: %v\n%s", err, msg)
	}
	for _, r := range recs {
		name := cleanName(r.Name)
		got, ok := list[name]
		if !ok {
			t.Errorf("%s: not in the squashfs", name)
			continue
		}
		data, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		want := sqEntry{mode: modeString(r.Mode), uid: r.UID, gid: r.GID}
		switch r.Mode & cpio.S_IFMT {
		case cpio.S_IFREG:
			want.size = strconv.Itoa(len(data))
			if on, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.Equal(on, data) {
				t.Errorf("%s: contents %q (%v), want %q", name, on, err, data)
			}
		case cpio.S_IFLNK:
			want.size, want.link = strconv.Itoa(len(data)), string(data)
		case cpio.S_IFCHR:
			want.size = fmt.Sprintf("%d,%d", r.Rmajor, r.Rminor)
		default:
			want.size = got.size // a directory's size is squashfs's own
		}
		if got != want {
			t.Errorf("%s: squashfs has %+v, the cpio %+v", name, got, want)
		}
		delete(list, name)
	}
	for name := range list {
		t.Errorf("%s: in the squashfs, not in the cpio", name)
	}
}

// squashOptionsLike is o with a fresh work directory and no cache.
func squashOptionsLike(t *testing.T, o Options) Options {
	o.WorkDir = t.TempDir()
	return o
}

type sqEntry struct {
	mode     string
	uid, gid uint64
	size     string
	link     string
}

var lsLine = regexp.MustCompile(`^(\S{10}) (\d+)/(\d+) +(\d+|\d+, *\d+) \S+ \S+ squashfs-root/(.*?)(?: -> (.*))?$`)

// listSquashfs returns unsquashfs -lln's view of file, by name.
func listSquashfs(t *testing.T, file string) map[string]sqEntry {
	t.Helper()
	msg, err := exec.Command("unsquashfs", "-lln", file).Output()
	if err != nil {
		t.Fatalf("unsquashfs -lln: %v", err)
	}
	list := map[string]sqEntry{}
	for _, line := range bytes.Split(bytes.TrimSpace(msg), []byte("\n")) {
		m := lsLine.FindStringSubmatch(string(line))
		if m == nil {
			continue // the root, and unsquashfs's header
		}
		uid, _ := strconv.ParseUint(m[2], 10, 64)
		gid, _ := strconv.ParseUint(m[3], 10, 64)
		list[m[5]] = sqEntry{mode: m[1], uid: uid, gid: gid, size: regexp.MustCompile(` +`).ReplaceAllString(m[4], ""), link: m[6]}
	}
	return list
}

// modeString is ls's mode column for a cpio mode.
func modeString(mode uint64) string {
	kinds := map[uint64]byte{cpio.S_IFDIR: 'd', cpio.S_IFREG: '-', cpio.S_IFLNK: 'l', cpio.S_IFCHR: 'c'}
	b := []byte{kinds[mode&cpio.S_IFMT]}
	for i, c := range "rwxrwxrwx" {
		if mode&(1<<(8-i)) != 0 {
			b = append(b, byte(c))
		} else {
			b = append(b, '-')
		}
	}
	if mode&0o1000 != 0 {
		if b[9] == 'x' {
			b[9] = 't'
		} else {
			b[9] = 'T'
		}
	}
	return string(b)
}
