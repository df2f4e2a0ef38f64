// Package updater is the guest's side of signed A/B system updates: it
// receives a bundle (package bundle), checks its signed header against the
// running system before writing a byte, streams the image into the
// inactive slot with bounded memory, verifies the whole bundle, and only
// then arms a one-shot trial boot of that slot. The trial's verdict
// (commit, or back to the old slot) is init's; the boot loader's state is
// GRUB's environment block (grubenv.go).
package updater

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/mkimage/mkimage/bundle"
)

// Memory bounds of a receive, whatever the bundle says: the copy buffer
// and zstd's window (the build encodes with a smaller one).
const (
	copyBuffer = 256 << 10
	maxWindow  = 8 << 20
)

// Receiver writes bundles into the inactive slot.
type Receiver struct {
	Running bundle.RunningSystem // Running.SlotBytes: the inactive slot's size
	Keys    []ed25519.PublicKey
	// Slot is the inactive slot: its block device in the guest, a file
	// of Running.SlotBytes in tests. It is opened for writing only after
	// the header was verified and checked. SlotName is its name ("b").
	Slot, SlotName string
	// Begin, if set, runs once the header passed its checks, before the
	// slot is opened: the slot's old content is about to be lost.
	Begin func() error
	// Arm makes the next boot (and only the next) a trial of the slot
	// just written; it runs only after the whole bundle verified.
	Arm func(bundle.Header) error
}

// Result is what a receive did.
type Result struct {
	Header bundle.Header
	KeyID  string
	Bytes  int64 // image bytes written to the slot
}

// Receive reads one bundle from r. A bundle that is not trusted, not for
// this system or too large is refused before the slot is opened; one that
// is truncated or corrupt is found at its end, and then the trial is not
// armed: the running system and its boot state are untouched either way.
func (rc *Receiver) Receive(ctx context.Context, r io.Reader) (Result, error) {
	br, err := bundle.Open(r, rc.Keys, bundle.Limits{MaxPayload: rc.Running.SlotBytes + rc.Running.SlotBytes/64 + 1<<20})
	if err != nil {
		return Result{}, err
	}
	h := br.Header()
	res := Result{Header: h, KeyID: br.KeyID().String()}
	if err := bundle.Check(h, rc.Running); err != nil {
		return res, err
	}
	if rc.Begin != nil {
		if err := rc.Begin(); err != nil {
			return res, fmt.Errorf("before writing slot %s: %w", rc.SlotName, err)
		}
	}
	if res.Bytes, err = rc.write(ctx, br); err != nil {
		return res, err
	}
	if err := rc.Arm(h); err != nil {
		return res, fmt.Errorf("arming the trial boot of the new version: %w", err)
	}
	return res, nil
}

// write streams the decoded image into the slot, syncs it, then reads
// the payload to its end and verifies the bundle.
func (rc *Receiver) write(ctx context.Context, br *bundle.Reader) (int64, error) {
	h := br.Header()
	var img io.Reader = br.Payload()
	if h.Payload.Encoding == "zstd" {
		dec, err := zstd.NewReader(img, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxWindow))
		if err != nil {
			return 0, fmt.Errorf("starting the zstd decoder: %w", err)
		}
		defer dec.Close()
		img = dec
	}
	f, err := os.OpenFile(rc.Slot, os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("opening the inactive slot %s: %w", rc.Slot, err)
	}
	defer f.Close()
	src := &readTap{r: img}
	n, err := io.CopyBuffer(f, &ctxReader{ctx, io.LimitReader(src, h.Payload.ImageSize+1)}, make([]byte, copyBuffer))
	switch {
	case err != nil && src.err != nil && h.Payload.Encoding == "zstd" && !errors.Is(src.err, bundle.ErrTruncated):
		return n, undecodable(br, n, src.err)
	case err != nil:
		return n, fmt.Errorf("writing the image into %s after %d bytes: %w", rc.Slot, n, err)
	case n != h.Payload.ImageSize:
		return n, fmt.Errorf("%w: the image decodes to %d bytes, the signed header says %d", bundle.ErrCorrupt, n, h.Payload.ImageSize)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("syncing %s: %w", rc.Slot, err)
	}
	if _, err := io.Copy(io.Discard, br.Payload()); err != nil {
		return n, err
	}
	return n, br.Verify()
}

// ctxReader stops a copy when its context ends (a client that left).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// undecodable is the verdict on a payload the zstd decoder refused after
// n image bytes: the rest is read and hashed, so a bundle damaged on its
// way is reported as the signature check sees it (corrupt, or truncated);
// a payload that was signed as it is but does not decode is corrupt too.
func undecodable(br *bundle.Reader, n int64, decodeErr error) error {
	if _, err := io.Copy(io.Discard, br.Payload()); err != nil {
		return err
	}
	if err := br.Verify(); err != nil {
		return err
	}
	return fmt.Errorf("%w: the signed image does not decode after %d bytes: %v", bundle.ErrCorrupt, n, decodeErr)
}

// readTap remembers its reader's first error other than EOF (the copy
// reports a write error and a read error alike).
type readTap struct {
	r   io.Reader
	err error
}

func (t *readTap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}
