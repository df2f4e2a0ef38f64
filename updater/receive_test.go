package updater

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/mkimage/mkimage/bundle"
)

const slotBytes = 1 << 20

type fixture struct {
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	slot   string
	armed  []string
	begun  int // Begin calls: the slot's old content given up
	image  []byte
	before []byte
}

func newFixture(t *testing.T) *fixture {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{pub: pub, priv: priv, slot: filepath.Join(t.TempDir(), "slot-b")}
	f.before = bytes.Repeat([]byte("old "), slotBytes/4)
	if err := os.WriteFile(f.slot, f.before, 0o600); err != nil {
		t.Fatal(err)
	}
	f.image = make([]byte, 300<<10)
	copy(f.image, "FAT image of version 1.1.0")
	return f
}

func (f *fixture) receiver() *Receiver {
	return &Receiver{
		Running: bundle.RunningSystem{Board: "qemu-x86_64", Arch: "amd64", Version: "1.0.0", SlotBytes: slotBytes},
		Keys:    []ed25519.PublicKey{f.pub},
		Slot:    f.slot,
		Begin:   func() error { f.begun++; return nil },
		Arm: func(h bundle.Header) error {
			f.armed = append(f.armed, h.Version)
			return nil
		},
	}
}

// bundleOf encodes image with zstd (or raw) into a bundle signed by priv.
func bundleOf(t *testing.T, h bundle.Header, image []byte, encoding string, priv ed25519.PrivateKey) []byte {
	t.Helper()
	payload := image
	if encoding == "zstd" {
		enc, _ := zstd.NewWriter(nil)
		payload = enc.EncodeAll(image, nil)
	}
	sum := sha256.Sum256(payload)
	h.Format = 1
	h.Created = time.Unix(1700000000, 0).UTC()
	h.Payload = bundle.Payload{Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:]), Encoding: encoding, ImageSize: int64(len(image))}
	var b bytes.Buffer
	if err := bundle.Write(&b, h, bytes.NewReader(payload), priv); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func header(version string) bundle.Header {
	return bundle.Header{Board: "qemu-x86_64", Arch: "amd64", Version: version}
}

func TestReceive(t *testing.T) {
	for _, enc := range []string{"zstd", "raw"} {
		t.Run(enc, func(t *testing.T) {
			f := newFixture(t)
			res, err := f.receiver().Receive(context.Background(), bytes.NewReader(bundleOf(t, header("1.1.0"), f.image, enc, f.priv)))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(f.slot)
			if res.Bytes != int64(len(f.image)) || !bytes.Equal(got[:len(f.image)], f.image) || len(f.armed) != 1 || f.armed[0] != "1.1.0" {
				t.Errorf("res %+v, armed %v, slot starts %q", res, f.armed, got[:26])
			}
		})
	}
}

// Refused before the slot is written: the slot keeps every byte, the
// trial is not armed. Found at the end: the trial is not armed.
func TestReceiveRefuses(t *testing.T) {
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		name    string
		mk      func(f *fixture) []byte
		kind    error
		written bool // the slot was written before the failure showed
	}{
		{"untrusted key", func(f *fixture) []byte { return bundleOf(t, header("1.1.0"), f.image, "zstd", other) }, bundle.ErrUntrusted, false},
		{"wrong board", func(f *fixture) []byte {
			h := header("1.1.0")
			h.Board = "rpi4"
			return bundleOf(t, h, f.image, "zstd", f.priv)
		}, bundle.ErrNotApplicable, false},
		{"downgrade", func(f *fixture) []byte { return bundleOf(t, header("0.9.0"), f.image, "zstd", f.priv) }, bundle.ErrNotApplicable, false},
		{"same version", func(f *fixture) []byte { return bundleOf(t, header("1.0.0"), f.image, "zstd", f.priv) }, bundle.ErrNotApplicable, false},
		{"too large for the slot", func(f *fixture) []byte {
			return bundleOf(t, header("1.1.0"), make([]byte, slotBytes+1), "zstd", f.priv)
		}, bundle.ErrNotApplicable, false},
		{"truncated", func(f *fixture) []byte {
			b := bundleOf(t, header("1.1.0"), f.image, "raw", f.priv)
			return b[:len(b)-1000]
		}, bundle.ErrTruncated, true},
		{"payload altered", func(f *fixture) []byte {
			b := bundleOf(t, header("1.1.0"), f.image, "raw", f.priv)
			b[len(b)-10] ^= 1
			return b
		}, bundle.ErrCorrupt, true},
		// The decoder fails before the hash is complete: still corrupt
		// (a 400 at the client, not a server error).
		{"zstd payload altered", func(f *fixture) []byte {
			rand.Read(f.image[1000:]) // a payload that does not shrink to a few bytes
			b := bundleOf(t, header("1.1.0"), f.image, "zstd", f.priv)
			b[len(b)*3/4] ^= 0xff
			return b
		}, bundle.ErrCorrupt, true},
		{"zstd payload truncated", func(f *fixture) []byte {
			rand.Read(f.image[1000:])
			b := bundleOf(t, header("1.1.0"), f.image, "zstd", f.priv)
			return b[:len(b)/2]
		}, bundle.ErrTruncated, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.receiver().Receive(context.Background(), bytes.NewReader(c.mk(f)))
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want %v", err, c.kind)
			}
			if len(f.armed) != 0 {
				t.Errorf("the trial was armed after %v", err)
			}
			got, _ := os.ReadFile(f.slot)
			if !c.written && !bytes.Equal(got, f.before) {
				t.Errorf("the slot was written before the refusal")
			}
			if want := map[bool]int{false: 0, true: 1}[c.written]; f.begun != want {
				t.Errorf("Begin ran %d times, want %d (before every write, never for a refusal)", f.begun, want)
			}
		})
	}
}

// An image that decodes to more than its signed size is refused: the slot
// never gets more than the header promised.
func TestReceiveDecodesNoMoreThanSigned(t *testing.T) {
	f := newFixture(t)
	enc, _ := zstd.NewWriter(nil)
	payload := enc.EncodeAll(make([]byte, 900<<10), nil)
	sum := sha256.Sum256(payload)
	h := header("1.1.0")
	h.Format = 1
	h.Payload = bundle.Payload{Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:]), Encoding: "zstd", ImageSize: 100 << 10}
	var b bytes.Buffer
	if err := bundle.Write(&b, h, bytes.NewReader(payload), f.priv); err != nil {
		t.Fatal(err)
	}
	_, err := f.receiver().Receive(context.Background(), &b)
	if !errors.Is(err, bundle.ErrCorrupt) || len(f.armed) != 0 {
		t.Errorf("err = %v, armed %v", err, f.armed)
	}
}

// A receive holds a bounded amount of memory whatever the image's size:
// a 64 MiB image allocates less than a fixed budget in total (the zstd
// window and the copy buffer), so a 128 MiB machine can take it.
func TestReceiveMemory(t *testing.T) {
	f := newFixture(t)
	const size = 64 << 20
	img := make([]byte, size)
	for i := 0; i < size; i += 4096 {
		copy(img[i:], []byte(time.Unix(int64(i), 0).String())) // compressible, not trivially
	}
	rc := f.receiver()
	rc.Running.SlotBytes = size
	data := bundleOf(t, header("1.1.0"), img, "zstd", f.priv)
	img = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := rc.Receive(context.Background(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	const budget = 24 << 20
	if got := after.TotalAlloc - before.TotalAlloc; got > budget {
		t.Errorf("receiving a %d MiB image allocated %d MiB, budget %d MiB", size>>20, got>>20, budget>>20)
	} else {
		t.Logf("receiving a %d MiB image allocated %.1f MiB", size>>20, float64(got)/(1<<20))
	}
}
