// Package mkbundle makes the signed update bundle of a built image: its
// slot image (slot.img), zstd-compressed, under a signed header that names
// the image's board, arch and version. `mkimage update` sends it or writes
// it out for later.
package mkbundle

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/disk"
	"github.com/mkimage/mkimage/internal/manifest"
)

// Window is the zstd window the payload is encoded with: the appliance's
// decoder allows no larger one, and holds one window in memory.
const Window = 8 << 20

// Options are a bundle's inputs besides the image and the key.
type Options struct {
	// Out is the bundle's path; "" means DIR/DefaultName(m).
	Out string
	// Downgrade signs the bundle as a permitted downgrade.
	Downgrade bool
	// Created is the header's time; zero means now.
	Created time.Time
}

// Result is the bundle made.
type Result struct {
	Path   string
	Header bundle.Header
	KeyID  bundle.KeyID
}

// DefaultName is a bundle's file name: board-version.mkup.
func DefaultName(m *manifest.Manifest) string { return m.Board + "-" + m.Version + ".mkup" }

// Image reads the manifest of the image in dir and checks that it can be
// bundled: built with [update] (it has a version) and with a slot image.
func Image(dir string) (*manifest.Manifest, error) {
	m, err := manifest.Read(dir)
	if err != nil {
		return nil, err
	}
	if m.Version == "" {
		return nil, fmt.Errorf("the image in %s was built without [update]: it has no version and takes no updates (set [update] listen, allow and version in appliance.toml and build again)", dir)
	}
	if err := bundle.ValidVersion(m.Version); err != nil {
		return nil, fmt.Errorf("the image in %s: version: %w", dir, err)
	}
	if m.Slot == nil {
		return nil, fmt.Errorf("the image in %s has no slot image (%s): board %s has no A/B system slots, or the image was built with -no-disk", dir, disk.SlotFile, m.Board)
	}
	if _, err := os.Stat(filepath.Join(dir, m.Slot.Name)); err != nil {
		return nil, fmt.Errorf("the image in %s: its slot image: %w", dir, err)
	}
	return m, nil
}

// Make writes the signed bundle of the image in dir, signed with key. The
// slot image is checked against the manifest's hash as it is compressed
// into a temporary file beside the bundle; the bundle itself appears under
// its name only when complete.
func Make(ctx context.Context, dir string, key ed25519.PrivateKey, opts Options) (Result, error) {
	m, err := Image(dir)
	if err != nil {
		return Result{}, err
	}
	out := opts.Out
	if out == "" {
		out = filepath.Join(dir, DefaultName(m))
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".zst-*")
	if err != nil {
		return Result{}, fmt.Errorf("making the bundle: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	payload, err := compress(ctx, filepath.Join(dir, m.Slot.Name), *m.Slot, tmp)
	if err != nil {
		return Result{}, err
	}
	h := bundle.Header{
		Format: bundle.FormatVersion, Board: m.Board, Arch: m.Arch, Version: m.Version,
		Downgrade: opts.Downgrade, Created: created.UTC().Truncate(time.Second), Payload: payload,
		Meta: map[string]string{"tool_version": m.ToolVersion, "kernel_version": m.KernelVersion},
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Result{}, fmt.Errorf("making the bundle: rewinding the compressed slot image: %w", err)
	}
	if err := writeFile(out, func(w io.Writer) error { return bundle.Write(w, h, bufio.NewReader(tmp), key) }); err != nil {
		return Result{}, err
	}
	return Result{Path: out, Header: h, KeyID: bundle.IDOf(key.Public().(ed25519.PublicKey))}, nil
}

// compress encodes the slot image at path into w with zstd and describes
// the result as a bundle payload. The image must be the one the manifest
// describes (want).
func compress(ctx context.Context, path string, want manifest.File, w io.Writer) (bundle.Payload, error) {
	in, err := os.Open(path)
	if err != nil {
		return bundle.Payload{}, fmt.Errorf("making the bundle: %w", err)
	}
	defer in.Close()
	sum := sha256.New()
	cw := &counter{w: bufio.NewWriterSize(w, 1<<20), h: sha256.New()}
	enc, err := zstd.NewWriter(cw, zstd.WithWindowSize(Window), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return bundle.Payload{}, fmt.Errorf("starting the zstd encoder: %w", err)
	}
	n, err := io.Copy(enc, io.TeeReader(ctxReader{ctx, in}, sum))
	if cerr := enc.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = cw.w.Flush()
	}
	if err != nil {
		return bundle.Payload{}, fmt.Errorf("compressing %s: %w", path, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); n != want.Size || got != want.SHA256 {
		return bundle.Payload{}, fmt.Errorf("%s is not the image the manifest describes (%d bytes, sha256 %s; the manifest says %d bytes, %s): was it changed after the build?", path, n, got, want.Size, want.SHA256)
	}
	return bundle.Payload{Size: cw.n, SHA256: hex.EncodeToString(cw.h.Sum(nil)), Encoding: bundle.EncodingZstd, ImageSize: n}, nil
}

// writeFile writes path through a temporary file beside it, renamed into
// place once write succeeded and the data is synced.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing the bundle %s: %w", path, err)
	}
	return nil
}

// counter counts and hashes what passes to w.
type counter struct {
	w *bufio.Writer
	h hash.Hash
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// ctxReader stops reading when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
