package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"runtime"
	"testing"
)

// pattern yields n deterministic bytes without holding them.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rest := p.n - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 7 / 5)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// TestMemory reads a 64 MiB payload through Open, Payload and Verify and
// measures every byte allocated meanwhile: the header, the hash state and
// a few small buffers, whatever the payload's size.
func TestMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 128 MiB")
	}
	const size = 64 << 20
	const bound = 32 << 10
	priv := testKey(1)
	sum := sha256.New()
	if _, err := io.Copy(sum, &pattern{n: size}); err != nil {
		t.Fatal(err)
	}
	h := testHeader(nil)
	h.Payload.Size, h.Payload.ImageSize = size, size
	h.Payload.SHA256 = hex.EncodeToString(sum.Sum(nil))
	hb, err := encodeHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	var head bytes.Buffer
	if err := writeHead(&head, hb, priv); err != nil {
		t.Fatal(err)
	}
	src := io.MultiReader(bytes.NewReader(head.Bytes()), &pattern{n: size})
	buf := make([]byte, 32<<10)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := Open(src, []ed25519.PublicKey{pub(priv)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, r.Payload(), buf)
	if err != nil || n != size {
		t.Fatalf("payload: %d bytes, %v", n, err)
	}
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes in all to read a %d MiB bundle", alloc, size>>20)
	if alloc > bound {
		t.Errorf("allocated %d bytes to read a %d-byte payload, want at most %d", alloc, size, bound)
	}
}

// TestPayloadReadAllocs: reading the payload allocates nothing per call.
func TestPayloadReadAllocs(t *testing.T) {
	priv := testKey(1)
	h := testHeader(nil)
	h.Payload.Size, h.Payload.ImageSize = 1<<40, 1<<40
	h.Payload.SHA256 = hex.EncodeToString(make([]byte, 32))
	hb, _ := encodeHeader(h)
	var head bytes.Buffer
	if err := writeHead(&head, hb, priv); err != nil {
		t.Fatal(err)
	}
	r, err := Open(io.MultiReader(&head, &pattern{n: 1 << 40}), []ed25519.PublicKey{pub(priv)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p, buf := r.Payload(), make([]byte, 4096)
	if allocs := testing.AllocsPerRun(100, func() { _, _ = p.Read(buf) }); allocs != 0 {
		t.Errorf("%v allocations per Read, want 0", allocs)
	}
}
