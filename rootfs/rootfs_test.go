package rootfs

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"
)

func testTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"index.html": "hi\n", "css/a.css": "a{}", "z/y/x.txt": "deep"}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("index.html", filepath.Join(dir, "link.html")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func build(t *testing.T, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Build(context.Background(), o, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func records(t *testing.T, compressed []byte) []cpio.Record {
	t.Helper()
	dec, err := zstd.NewReader(bytes.NewReader(compressed))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(dec); err != nil {
		t.Fatal(err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Two builds of the same inputs, even with the tree copied elsewhere and
// different host modes and times, give byte-identical output.
func TestReproducible(t *testing.T) {
	a, b := testTree(t), testTree(t)
	if err := os.Chtimes(filepath.Join(b, "index.html"), timeVal(1), timeVal(1)); err != nil {
		t.Fatal(err)
	}
	opts := func(dir string) Options {
		return Options{
			Trees:   []Tree{{Source: dir, Target: "/srv/www"}},
			Files:   []File{{Target: "/etc/mkimage/init.json", Data: []byte("{}"), Mode: 0o644}},
			MTime:   1700000000,
			WorkDir: t.TempDir(),
		}
	}
	out1, out2 := build(t, opts(a)), build(t, opts(b))
	if !bytes.Equal(out1, out2) {
		t.Fatal("same inputs gave different initramfs bytes")
	}
	o := opts(a)
	o.MTime = 1
	if bytes.Equal(out1, build(t, o)) {
		t.Fatal("SOURCE_DATE_EPOCH did not change the output")
	}
}

func TestContents(t *testing.T) {
	out := build(t, Options{
		Trees:   []Tree{{Source: testTree(t), Target: "/srv/www"}},
		MTime:   42,
		WorkDir: t.TempDir(),
	})
	seen := map[string]cpio.Record{}
	for _, r := range records(t, out) {
		if r.Name == cpio.Trailer {
			continue
		}
		if d := filepath.Dir(r.Name); d != "." {
			if _, ok := seen[d]; !ok {
				t.Errorf("%s comes before its directory %s", r.Name, d)
			}
		}
		if r.MTime != 42 || r.UID != 0 || r.GID != 0 {
			t.Errorf("%s: mtime %d uid %d gid %d", r.Name, r.MTime, r.UID, r.GID)
		}
		seen[r.Name] = r
	}
	want := map[string]uint64{
		"dev/console":        cpio.S_IFCHR | 0o600,
		"dev/null":           cpio.S_IFCHR | 0o666,
		"tmp":                cpio.S_IFDIR | 0o1777,
		"srv/www":            cpio.S_IFDIR | 0o755,
		"srv/www/z/y":        cpio.S_IFDIR | 0o755,
		"srv/www/index.html": cpio.S_IFREG | 0o644,
		"srv/www/link.html":  cpio.S_IFLNK | 0o777,
		"proc":               cpio.S_IFDIR | 0o755,
		"srv/www/z/y/x.txt":  cpio.S_IFREG | 0o644,
		"srv/www/css/a.css":  cpio.S_IFREG | 0o644,
	}
	for name, mode := range want {
		r, ok := seen[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if r.Mode != mode {
			t.Errorf("%s: mode %o, want %o", name, r.Mode, mode)
		}
	}
}

func TestBadTree(t *testing.T) {
	var buf bytes.Buffer
	_, err := Build(context.Background(), Options{Trees: []Tree{{Source: "/nonexistent", Target: "/x"}}, WorkDir: t.TempDir()}, &buf)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Fatalf("err = %v", err)
	}
}

func timeVal(sec int64) time.Time { return time.Unix(sec, 0) }

// A dynamic host executable brings its loader and libraries.
func TestHostBinaryLibs(t *testing.T) {
	if _, err := os.Stat("/lib64/ld-linux-x86-64.so.2"); err != nil {
		t.Skip("not an x86_64 glibc host")
	}
	out := build(t, Options{
		GOARCH:    "amd64",
		Programs:  []Program{{Name: "ls", File: "/bin/ls", Target: "/bin/ls"}},
		HostFiles: []string{"/usr/share/zoneinfo/UTC"},
		WorkDir:   t.TempDir(),
	})
	names := map[string]bool{}
	for _, r := range records(t, out) {
		names[r.Name] = true
	}
	for _, want := range []string{"bin/ls", "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6", "usr/share/zoneinfo/UTC"} {
		if !names[want] {
			t.Errorf("%s missing from the image", want)
		}
	}
	var buf bytes.Buffer
	_, err := Build(context.Background(), Options{GOARCH: "arm64", Programs: []Program{{Name: "ls", File: "/bin/ls", Target: "/bin/ls"}}, WorkDir: t.TempDir()}, &buf)
	if err == nil || !strings.Contains(err.Error(), "board needs") {
		t.Errorf("an amd64 binary for an arm64 board: err = %v", err)
	}
}

// A program's aliases are symlinks to it (a multi-call binary).
func TestProgramAliases(t *testing.T) {
	dir, err := filepath.Abs("testdata/multicall")
	if err != nil {
		t.Fatal(err)
	}
	out := build(t, Options{
		GOARCH:   "amd64",
		Programs: []Program{{Name: "init", Package: ".", Dir: dir, Target: "init", Aliases: []string{"/bin/httpfront", "/bin/updated"}}},
		WorkDir:  t.TempDir(),
	})
	seen := map[string]cpio.Record{}
	for _, r := range records(t, out) {
		seen[r.Name] = r
	}
	if r, ok := seen["init"]; !ok || r.Mode != cpio.S_IFREG|0o755 || r.FileSize < 1000 {
		t.Errorf("init: %+v", r.Info)
	}
	for _, a := range []string{"bin/httpfront", "bin/updated"} {
		r, ok := seen[a]
		if !ok || r.Mode != cpio.S_IFLNK|0o777 {
			t.Errorf("%s: %+v", a, r.Info)
			continue
		}
		var dest bytes.Buffer
		if _, err := dest.ReadFrom(io.NewSectionReader(r, 0, int64(r.FileSize))); err != nil || dest.String() != "/init" {
			t.Errorf("%s -> %q (%v), want /init", a, dest.String(), err)
		}
	}
}

// The end marker is the archive's last record, after its directory.
func TestEndMarker(t *testing.T) {
	out := build(t, Options{
		Trees:     []Tree{{Source: testTree(t), Target: "/srv/www"}},
		Files:     []File{{Target: "/zzz/last-by-name", Data: []byte("x"), Mode: 0o644}},
		EndMarker: "/etc/mkimage/initramfs-end",
		WorkDir:   t.TempDir(),
	})
	recs := records(t, out) // without the trailer
	if len(recs) > 0 && recs[len(recs)-1].Name == cpio.Trailer {
		recs = recs[:len(recs)-1]
	}
	if len(recs) < 3 {
		t.Fatalf("%d records", len(recs))
	}
	last := recs[len(recs)-1]
	if last.Name != "etc/mkimage/initramfs-end" || last.Mode != cpio.S_IFREG|0o444 {
		t.Errorf("last record %s %o, want the end marker", last.Name, last.Mode)
	}
	seenDir := false
	for _, r := range recs[:len(recs)-1] {
		seenDir = seenDir || r.Name == "etc/mkimage"
	}
	if !seenDir {
		t.Error("the end marker's directory is not in the archive before it")
	}
}
