package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Limits bound what Open accepts; zero fields mean the defaults.
type Limits struct {
	// MaxHeader bounds the header's length in bytes; 0, or more than the
	// format's MaxHeader, means MaxHeader.
	MaxHeader int
	// MaxPayload bounds the payload's size in bytes; 0 means no bound.
	MaxPayload int64
}

func (l Limits) maxHeader() int {
	if l.MaxHeader <= 0 || l.MaxHeader > MaxHeader {
		return MaxHeader
	}
	return l.MaxHeader
}

// Reader reads a bundle whose header is verified; its payload is not yet
// (Verify does that after it was read). It holds the decoded header and a
// hash state, and reads from the underlying reader only what the caller's
// buffers ask for.
type Reader struct {
	src     io.Reader
	h       Header
	signer  KeyID
	payload payloadReader
	// verified is set once Verify reached a verdict, which is then final.
	verified bool
	verr     error
}

// Open reads a bundle's header and signature from r and checks them: the
// header's length against lim, the signature against the trusted keys, and
// the header itself (strict JSON, format 1, valid fields, payload size
// within lim). It reads nothing of the payload. On success the caller
// reads Payload to its end and then calls Verify, and must act on nothing
// it wrote unless Verify returns nil. Errors wrap ErrFormat, ErrTruncated,
// ErrTooLarge or ErrUntrusted.
func Open(r io.Reader, trusted []ed25519.PublicKey, lim Limits) (*Reader, error) {
	var pre [prefixLen]byte
	if err := readFull(r, pre[:], "the bundle's start", 0); err != nil {
		return nil, err
	}
	if string(pre[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: it starts with %q, not %q", ErrFormat, pre[:len(magic)], magic)
	}
	if f := pre[len(magic)]; f != FormatVersion {
		return nil, fmt.Errorf("%w: format byte %d, this reader knows format %d", ErrFormat, f, FormatVersion)
	}
	n := binary.BigEndian.Uint32(pre[len(magic)+1:])
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: header length 0", ErrFormat)
	case n > MaxHeader:
		return nil, fmt.Errorf("%w: header length %d, the format allows at most %d", ErrFormat, n, MaxHeader)
	case n > uint32(lim.maxHeader()):
		return nil, fmt.Errorf("%w: header length %d, the limit is %d", ErrTooLarge, n, lim.maxHeader())
	}
	buf := make([]byte, int(n)+sigBlockLen)
	if err := readFull(r, buf[:n], "the header", int64(prefixLen)); err != nil {
		return nil, err
	}
	if err := readFull(r, buf[n:], "the signature block", int64(prefixLen)+int64(n)); err != nil {
		return nil, err
	}
	hb := buf[:n]
	var id KeyID
	copy(id[:], buf[n:])
	if err := verifySignature(hb, id, buf[int(n)+len(id):], trusted); err != nil {
		return nil, err
	}
	h, err := decodeHeader(hb)
	if err != nil {
		return nil, err
	}
	if lim.MaxPayload > 0 && h.Payload.Size > lim.MaxPayload {
		return nil, fmt.Errorf("%w: payload is %d bytes, the limit is %d", ErrTooLarge, h.Payload.Size, lim.MaxPayload)
	}
	return &Reader{
		src:    r,
		h:      h,
		signer: id,
		payload: payloadReader{
			src:  r,
			off:  int64(prefixLen) + int64(n) + int64(sigBlockLen),
			size: h.Payload.Size,
			left: h.Payload.Size,
			hash: sha256.New(),
		},
	}, nil
}

// verifySignature checks sig over hb with the trusted key whose id is id.
func verifySignature(hb []byte, id KeyID, sig []byte, trusted []ed25519.PublicKey) error {
	found := false
	for _, k := range trusted {
		if len(k) != ed25519.PublicKeySize || IDOf(k) != id {
			continue
		}
		found = true
		if ed25519.Verify(k, signedMessage(hb), sig) {
			return nil
		}
	}
	if !found {
		return fmt.Errorf("%w: it is signed by key %s, which is not trusted (trusted: %s)", ErrUntrusted, id, idList(trusted))
	}
	return fmt.Errorf("%w: its signature by key %s does not verify: the header was altered or the signature is corrupt", ErrUntrusted, id)
}

// idList names the trusted keys for an error message.
func idList(keys []ed25519.PublicKey) string {
	if len(keys) == 0 {
		return "no key"
	}
	const most = 4
	var ids []string
	for i, k := range keys {
		if i == most {
			ids = append(ids, fmt.Sprintf("and %d more", len(keys)-most))
			break
		}
		if len(k) != ed25519.PublicKeySize {
			ids = append(ids, "a malformed key")
			continue
		}
		ids = append(ids, IDOf(k).String())
	}
	return strings.Join(ids, ", ")
}

// Header is the verified header.
func (r *Reader) Header() Header { return r.h }

// KeyID is the id of the trusted key that signed the bundle.
func (r *Reader) KeyID() KeyID { return r.signer }

// Payload yields exactly Header().Payload.Size bytes and then io.EOF,
// hashing them; if the stream ends early its error wraps ErrTruncated (it
// is not io.EOF). Every call returns the same reader.
func (r *Reader) Payload() io.Reader { return &r.payload }

// Verify is the verdict on the payload, once it was read to its end: its
// SHA-256 must be the signed one and nothing may follow it (Verify reads
// one more byte, which must be the end of the stream). Before the end it
// is an error. Its verdict is final: later calls return the same.
func (r *Reader) Verify() error {
	if r.verified {
		return r.verr
	}
	p := &r.payload
	if p.err != nil {
		return p.err
	}
	if p.left > 0 {
		return fmt.Errorf("verifying the bundle: its payload was read to byte %d of %d, not to its end", p.size-p.left, p.size)
	}
	r.verified = true
	if got := hex.EncodeToString(p.hash.Sum(nil)); got != r.h.Payload.SHA256 {
		r.verr = fmt.Errorf("%w: the payload's sha256 is %s, the signed header says %s", ErrCorrupt, got, r.h.Payload.SHA256)
		return r.verr
	}
	var one [1]byte
	switch k, err := io.ReadFull(r.src, one[:]); {
	case k > 0:
		r.verr = fmt.Errorf("%w: data follows the payload's %d bytes", ErrCorrupt, p.size)
	case err != io.EOF:
		r.verr = fmt.Errorf("verifying the bundle: reading past the payload: %w", err)
	}
	return r.verr
}

// payloadReader yields exactly size bytes of src and hashes them.
type payloadReader struct {
	src  io.Reader
	off  int64 // the payload's offset in the bundle, for messages
	size int64
	left int64
	hash hash.Hash
	err  error // sticky: the stream failed
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.src.Read(b)
	p.hash.Write(b[:n])
	p.left -= int64(n)
	switch {
	case err == io.EOF && p.left > 0:
		p.err = truncated("the payload", p.size-p.left, p.size, p.off)
	case err == io.EOF:
		err = nil
	case err != nil:
		p.err = fmt.Errorf("reading the bundle's payload at byte %d of %d: %w", p.size-p.left, p.size, err)
	}
	if p.err != nil {
		return n, p.err
	}
	return n, err
}

// readFull fills b from r; off is b's offset in the bundle.
func readFull(r io.Reader, b []byte, what string, off int64) error {
	n, err := io.ReadFull(r, b)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return truncated(what, int64(n), int64(len(b)), off)
	case err != nil:
		return fmt.Errorf("reading %s of the bundle at byte %d: %w", what, off+int64(n), err)
	}
	return nil
}

func truncated(what string, got, want, off int64) error {
	return fmt.Errorf("%w: it ends at byte %d, after %d of the %d bytes of %s", ErrTruncated, off+got, got, want, what)
}
