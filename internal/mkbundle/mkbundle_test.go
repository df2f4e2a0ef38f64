package mkbundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/manifest"
)

// fakeImage writes an image directory as `mkimage build` would for a board
// with slots: manifest.json and slot.img (a few MiB, mostly empty like a
// real slot's FAT). It returns the directory and slot.img's bytes.
func fakeImage(t *testing.T, version string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	slot := make([]byte, 3<<20+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 1 << 20; i < 2<<20; i++ {
		slot[i] = byte(r.Uint32())
	}
	copy(slot, "a FAT slot holding vmlinuz and initrd.zst")
	if err := os.WriteFile(filepath.Join(dir, "slot.img"), slot, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := manifest.Describe(dir, "slot.img")
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{Board: "qemu-x86_64", Arch: "amd64", ToolVersion: "0.1.0-dev",
		KernelVersion: "6.12.1", Slot: &f, Version: version}
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir, slot
}

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := bundle.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The bundle verifies with the public key, says what the image is, and its
// payload decodes (with the appliance's window limit) to slot.img.
func TestMake(t *testing.T) {
	dir, slot := fakeImage(t, "1.1.0")
	key := testKey(t)
	created := time.Date(2026, 1, 2, 15, 4, 5, 999, time.FixedZone("x", 3600))
	for _, c := range []struct {
		name      string
		opts      Options
		wantPath  string
		downgrade bool
	}{
		{"default path", Options{Created: created}, filepath.Join(dir, "qemu-x86_64-1.1.0.mkup"), false},
		{"given path, downgrade", Options{Out: filepath.Join(dir, "elsewhere.mkup"), Downgrade: true, Created: created}, filepath.Join(dir, "elsewhere.mkup"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Make(context.Background(), dir, key, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Path != c.wantPath {
				t.Errorf("path %s, want %s", res.Path, c.wantPath)
			}
			f, err := os.Open(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := bundle.Open(f, []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, bundle.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			h := r.Header()
			if h.Board != "qemu-x86_64" || h.Arch != "amd64" || h.Version != "1.1.0" || h.Downgrade != c.downgrade ||
				!h.Created.Equal(created.Truncate(time.Second)) || h.Payload.Encoding != "zstd" || h.Payload.ImageSize != int64(len(slot)) ||
				h.Meta["tool_version"] != "0.1.0-dev" || h.Meta["kernel_version"] != "6.12.1" || h.Keys != nil {
				t.Errorf("header %+v", h)
			}
			if r.KeyID() != res.KeyID || h.Payload != res.Header.Payload {
				t.Errorf("result %+v differs from the bundle's header %+v (key %s)", res, h, r.KeyID())
			}
			if h.Payload.Size >= int64(len(slot))/2 {
				t.Errorf("payload %d bytes for a %d-byte image mostly empty: not compressed", h.Payload.Size, len(slot))
			}
			dec, err := zstd.NewReader(r.Payload(), zstd.WithDecoderMaxWindow(Window), zstd.WithDecoderLowmem(true))
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			got, err := io.ReadAll(dec)
			if err != nil || !bytes.Equal(got, slot) {
				t.Errorf("decoded payload: %d bytes (want %d), equal %v, %v", len(got), len(slot), bytes.Equal(got, slot), err)
			}
			if err := r.Verify(); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	assertNoTemp(t, dir)
}

// What cannot be bundled is refused before a bundle file appears.
func TestMakeRefuses(t *testing.T) {
	key := testKey(t)
	for _, c := range []struct {
		name   string
		change func(t *testing.T, dir string) // spoils a good image
		out    string                         // Options.Out under the image dir; "": default
		want   string
	}{
		{"not an image", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, manifest.Name)) }, "", "is DIR a `mkimage build` output"},
		{"built without [update]", func(t *testing.T, dir string) { rewrite(t, dir, func(m *manifest.Manifest) { m.Version = "" }) }, "", "built without [update]"},
		{"no slot in the manifest", func(t *testing.T, dir string) { rewrite(t, dir, func(m *manifest.Manifest) { m.Slot = nil }) }, "", "has no slot image (slot.img): board qemu-x86_64 has no A/B"},
		{"slot.img missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "slot.img")) }, "", "slot.img: no such file"},
		{"slot.img changed", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "slot.img"), []byte("another system"), 0o644)
		}, "", "not the image the manifest describes"},
		{"output directory missing", func(t *testing.T, dir string) {}, "missing/x.mkup", "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, _ := fakeImage(t, "1.1.0")
			c.change(t, dir)
			opts := Options{}
			if c.out != "" {
				opts.Out = filepath.Join(dir, c.out)
			}
			_, err := Make(context.Background(), dir, key, opts)
			if want := strings.ReplaceAll(c.want, "DIR", dir); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want one containing %q", err, want)
			}
			assertNoTemp(t, dir)
			if _, err := os.Stat(filepath.Join(dir, "qemu-x86_64-1.1.0.mkup")); err == nil {
				t.Error("a bundle was written")
			}
		})
	}
}

// A cancelled make leaves nothing behind.
func TestMakeCancelled(t *testing.T) {
	dir, _ := fakeImage(t, "1.1.0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Make(ctx, dir, testKey(t), Options{}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("err = %v", err)
	}
	assertNoTemp(t, dir)
}

func rewrite(t *testing.T, dir string, change func(*manifest.Manifest)) {
	t.Helper()
	m, err := manifest.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	change(m)
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
}

// assertNoTemp checks that dir holds no temporary file of a bundle.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
