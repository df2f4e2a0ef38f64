package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

// fuzzErrKinds are the only errors reading an in-memory bundle may give.
var fuzzErrKinds = []error{ErrFormat, ErrUntrusted, ErrTruncated, ErrCorrupt, ErrTooLarge}

func checkKind(t *testing.T, err error) {
	t.Helper()
	for _, k := range fuzzErrKinds {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("error of no known kind: %v", err)
}

// fuzzRead opens data with the fixed key, reads the payload and verifies:
// it fails with a known kind of error or it returns the payload, which
// must then be the end of data and have the signed size and hash.
func fuzzRead(t *testing.T, data []byte, priv ed25519.PrivateKey) {
	r, err := Open(bytes.NewReader(data), []ed25519.PublicKey{pub(priv)}, Limits{MaxPayload: 1 << 20})
	if err != nil {
		checkKind(t, err)
		return
	}
	h := r.Header()
	if _, err := encodeHeader(h); err != nil {
		t.Fatalf("an accepted header does not encode: %v", err)
	}
	_ = Check(h, RunningSystem{Board: "pc", Arch: "amd64", Version: "1.0.0", SlotBytes: 1 << 20})
	payload, err := io.ReadAll(r.Payload())
	if err == nil {
		err = r.Verify()
	}
	if err != nil {
		checkKind(t, err)
		return
	}
	sum := sha256.Sum256(payload)
	if int64(len(payload)) != h.Payload.Size || hex.EncodeToString(sum[:]) != h.Payload.SHA256 ||
		!bytes.HasSuffix(data, payload) || len(data) != layoutOf(data).payload+len(payload) {
		t.Fatalf("accepted a payload of %d bytes that is not the signed one", len(payload))
	}
}

// FuzzOpen feeds arbitrary bytes to Open with a fixed trusted key, reads
// the payload and verifies: never a panic, a known kind of error, and
// nothing accepted but the signed bytes.
func FuzzOpen(f *testing.F) {
	priv := testKey(1)
	payload := []byte("a small image")
	good := mustBundle(f, testHeader(payload), payload, priv)
	l := layoutOf(good)
	for _, cut := range []int{0, 3, 5, 9, l.header + 10, l.keyID, l.sig, l.payload, l.end - 1, l.end} {
		f.Add(good[:cut])
	}
	f.Add(append(clone(good), 0))
	f.Add(setLen(clone(good), MaxHeader))
	f.Add(mustBundle(f, testHeader(payload), payload, testKey(2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, data, priv)
	})
}

// FuzzSignedHeader signs arbitrary header bytes with the trusted key, so
// that the header decoder and the checks after the signature are reached.
func FuzzSignedHeader(f *testing.F) {
	priv := testKey(1)
	payload := []byte("a small image")
	good := mustBundle(f, testHeader(payload), payload, priv)
	l := layoutOf(good)
	hb := string(good[l.header:l.keyID])
	f.Add(hb, payload)
	f.Add(hb, payload[1:])
	f.Add(`{"format":2}`, []byte{})
	f.Add(`{"format":1,"board":"pc","arch":"amd64","version":"1.0.0","payload":{"size":1,"sha256":"","encoding":"zstd","image_size":1},"keys":[]}`, []byte("x"))
	f.Add(`{"Format":1,"FORMAT":1} `, []byte{})
	f.Fuzz(func(t *testing.T, header string, payload []byte) {
		if len(header) == 0 || len(header) > MaxHeader {
			return
		}
		fuzzRead(t, signedRaw(t, []byte(header), payload, priv), priv)
	})
}

// FuzzParseKey: whatever parses as a key formats and parses back to the
// same key.
func FuzzParseKey(f *testing.F) {
	priv := testKey(1)
	pem, _ := MarshalPrivate(priv)
	f.Add(string(pem))
	f.Add(FormatPublic(pub(priv), "alice@laptop"))
	f.Add("mkimage-ed25519 AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		if k, comment, err := ParsePublic(s); err == nil {
			k2, c2, err := ParsePublic(FormatPublic(k, comment))
			if err != nil || !k2.Equal(k) || c2 != comment {
				t.Fatalf("public key %q reads back as %x %q, %v", s, k2, c2, err)
			}
		}
		if k, err := ParsePrivate([]byte(s)); err == nil {
			data, err := MarshalPrivate(k)
			if err != nil {
				t.Fatalf("a parsed private key does not encode: %v", err)
			}
			if k2, err := ParsePrivate(data); err != nil || !k2.Equal(k) {
				t.Fatalf("private key reads back as %v", err)
			}
		}
	})
}
