package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// SignedPrefix is what the signature covers before the header bytes: it
// keeps a bundle signature from being valid as any other signature made
// with the same key.
const SignedPrefix = "mkimage-bundle-v1\x00"

const (
	magic = "MKUP"
	// prefixLen is the magic, the format byte and the header length.
	prefixLen = len(magic) + 1 + 4
	// sigBlockLen is the key id and the signature.
	sigBlockLen = len(KeyID{}) + ed25519.SignatureSize
)

// Write writes a bundle of h and payload signed with priv. The caller fills
// h.Payload (Size and SHA256 of the bytes payload yields; Create measures a
// file itself) and h.Format (FormatVersion). Write streams the payload and
// checks that it has exactly Size bytes and that hash; if it has not, it
// returns an error after having written a bundle no reader accepts, which
// the caller must discard.
func Write(w io.Writer, h Header, payload io.Reader, priv ed25519.PrivateKey) error {
	hb, err := encodeHeader(h)
	if err != nil {
		return err
	}
	if err := writeHead(w, hb, priv); err != nil {
		return err
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, sum), io.LimitReader(payload, h.Payload.Size))
	if err != nil {
		return fmt.Errorf("writing the bundle's payload after %d bytes: %w", n, err)
	}
	if n < h.Payload.Size {
		return fmt.Errorf("writing the bundle's payload: it has %d bytes, the header says %d", n, h.Payload.Size)
	}
	var one [1]byte
	switch k, err := io.ReadFull(payload, one[:]); {
	case k > 0:
		return fmt.Errorf("writing the bundle's payload: it is longer than the header's %d bytes", h.Payload.Size)
	case err != io.EOF:
		return fmt.Errorf("writing the bundle's payload: reading past its end: %w", err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.Payload.SHA256 {
		return fmt.Errorf("writing the bundle's payload: its sha256 is %s, the header says %s", got, h.Payload.SHA256)
	}
	return nil
}

// writeHead writes everything before the payload: the magic, the format
// byte, the header's length, the header bytes hb and the signature block.
func writeHead(w io.Writer, hb []byte, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("signing the bundle: the private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if len(hb) == 0 || len(hb) > MaxHeader {
		return fmt.Errorf("%w: header is %d bytes, the format allows 1 to %d", ErrFormat, len(hb), MaxHeader)
	}
	buf := make([]byte, 0, prefixLen+len(hb)+sigBlockLen)
	buf = append(buf, magic...)
	buf = append(buf, FormatVersion)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(hb)))
	buf = append(buf, hb...)
	id := IDOf(priv.Public().(ed25519.PublicKey))
	buf = append(buf, id[:]...)
	buf = append(buf, ed25519.Sign(priv, signedMessage(hb))...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("writing the bundle's header: %w", err)
	}
	return nil
}

// signedMessage is what the signature covers.
func signedMessage(hb []byte) []byte {
	m := make([]byte, 0, len(SignedPrefix)+len(hb))
	return append(append(m, SignedPrefix...), hb...)
}

// Create writes a bundle whose payload is the file at payloadPath: it reads
// the file once to fill h.Payload's Size and SHA256 (and ImageSize, when
// the encoding is raw and ImageSize is 0), then streams it into w.
func Create(w io.Writer, h Header, payloadPath string, priv ed25519.PrivateKey) error {
	f, err := os.Open(payloadPath)
	if err != nil {
		return fmt.Errorf("opening the bundle's payload: %w", err)
	}
	defer f.Close()
	sum := sha256.New()
	n, err := io.Copy(sum, f)
	if err != nil {
		return fmt.Errorf("hashing the bundle's payload %s: %w", payloadPath, err)
	}
	h.Payload.Size = n
	h.Payload.SHA256 = hex.EncodeToString(sum.Sum(nil))
	if h.Payload.Encoding == EncodingRaw && h.Payload.ImageSize == 0 {
		h.Payload.ImageSize = n
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewinding the bundle's payload %s: %w", payloadPath, err)
	}
	if err := Write(w, h, f, priv); err != nil {
		return fmt.Errorf("bundling %s: %w", payloadPath, err)
	}
	return nil
}
