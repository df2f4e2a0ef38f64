package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testKey is a fixed key: seed picks which one.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pub(priv ed25519.PrivateKey) ed25519.PublicKey { return priv.Public().(ed25519.PublicKey) }

// testHeader describes payload as a raw image.
func testHeader(payload []byte) Header {
	sum := sha256.Sum256(payload)
	return Header{
		Format:  FormatVersion,
		Board:   "pc",
		Arch:    "amd64",
		Version: "1.4.0",
		Created: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
		Payload: Payload{
			Size:      int64(len(payload)),
			SHA256:    hex.EncodeToString(sum[:]),
			Encoding:  EncodingRaw,
			ImageSize: int64(len(payload)),
		},
		Meta: map[string]string{"tool": "test"},
	}
}

func mustBundle(t testing.TB, h Header, payload []byte, priv ed25519.PrivateKey) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, h, bytes.NewReader(payload), priv); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

// signedRaw is a bundle of arbitrary header bytes, validly signed.
func signedRaw(t testing.TB, hb, payload []byte, priv ed25519.PrivateKey) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeHead(&b, hb, priv); err != nil {
		t.Fatalf("writeHead: %v", err)
	}
	return append(b.Bytes(), payload...)
}

// readBundle opens data, reads its payload and verifies it: the first
// error of the three.
func readBundle(data []byte, trusted []ed25519.PublicKey, lim Limits) (Header, []byte, error) {
	r, err := Open(bytes.NewReader(data), trusted, lim)
	if err != nil {
		return Header{}, nil, err
	}
	p, err := io.ReadAll(r.Payload())
	if err != nil {
		return r.Header(), p, err
	}
	return r.Header(), p, r.Verify()
}

func TestRoundTrip(t *testing.T) {
	priv := testKey(1)
	payload := bytes.Repeat([]byte("appliance image "), 1000)
	h := testHeader(payload)
	h.Keys = []string{FormatPublic(pub(testKey(2)), "next key")}
	data := mustBundle(t, h, payload, priv)
	r, err := Open(bytes.NewReader(data), []ed25519.PublicKey{pub(testKey(9)), pub(priv)}, Limits{MaxPayload: int64(len(payload))})
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyID() != IDOf(pub(priv)) {
		t.Errorf("KeyID = %s, want %s", r.KeyID(), IDOf(pub(priv)))
	}
	if err := r.Verify(); err == nil || !strings.Contains(err.Error(), "not to its end") {
		t.Errorf("Verify before the payload was read = %v, want an error", err)
	}
	got, err := io.ReadAll(r.Payload())
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("payload: %d bytes, %v; want %d bytes", len(got), err, len(payload))
	}
	if err := r.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	gh := r.Header()
	if !gh.Created.Equal(h.Created) || gh.Version != h.Version || gh.Payload != h.Payload || gh.Keys[0] != h.Keys[0] || gh.Meta["tool"] != "test" {
		t.Errorf("header = %+v, want %+v", gh, h)
	}
	if n, _ := r.Payload().Read(make([]byte, 8)); n != 0 {
		t.Errorf("payload yields %d bytes after its end", n)
	}
}

// layout is where each region of a bundle starts.
type layout struct{ header, keyID, sig, payload, end int }

func layoutOf(data []byte) layout {
	n := int(binary.BigEndian.Uint32(data[5:9]))
	return layout{header: 9, keyID: 9 + n, sig: 17 + n, payload: 81 + n, end: len(data)}
}

func TestTamper(t *testing.T) {
	priv, other := testKey(1), testKey(2)
	payload := bytes.Repeat([]byte{0xa5, 0x5a, 7}, 5000)
	good := mustBundle(t, testHeader(payload), payload, priv)
	l := layoutOf(good)
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 0x01; return b }
	}
	// wrongSigner carries priv's key id but other's signature.
	wrongSigner := mustBundle(t, testHeader(payload), payload, other)
	id := IDOf(pub(priv))
	copy(wrongSigner[l.keyID:], id[:])
	hb := good[l.header:l.keyID]
	withHeader := func(s string) []byte { return signedRaw(t, []byte(s), payload, priv) }
	format2 := strings.Replace(string(hb), `"format":1`, `"format":2`, 1)
	unknown := strings.Replace(string(hb), `{"format":1`, `{"format":1,"channel":"beta"`, 1)
	hugeLen := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(hugeLen[5:], MaxHeader+1)

	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		trusted []ed25519.PublicKey
		want    error
		msg     string
	}{
		{"good", good, Limits{}, nil, nil, ""},
		{"magic", flip(1)(clone(good)), Limits{}, nil, ErrFormat, `not "MKUP"`},
		{"format byte", flip(4)(clone(good)), Limits{}, nil, ErrFormat, "format byte 0"},
		{"header length off by one", flip(8)(clone(good)), Limits{}, nil, ErrUntrusted, "which is not trusted"},
		{"header length 0", setLen(clone(good), 0), Limits{}, nil, ErrFormat, "header length 0"},
		{"header longer than the format", hugeLen, Limits{}, nil, ErrFormat, "at most 65536"},
		{"header longer than the limit", good, Limits{MaxHeader: 64}, nil, ErrTooLarge, "the limit is 64"},
		{"payload larger than the limit", good, Limits{MaxPayload: 100}, nil, ErrTooLarge, "payload is 15000 bytes, the limit is 100"},
		{"header byte", flip(l.header + 20)(clone(good)), Limits{}, nil, ErrUntrusted, "does not verify"},
		{"last header byte", flip(l.keyID - 1)(clone(good)), Limits{}, nil, ErrUntrusted, "does not verify"},
		{"key id", flip(l.keyID)(clone(good)), Limits{}, nil, ErrUntrusted, "which is not trusted"},
		{"signature", flip(l.sig + 10)(clone(good)), Limits{}, nil, ErrUntrusted, "does not verify"},
		{"first payload byte", flip(l.payload)(clone(good)), Limits{}, nil, ErrCorrupt, "sha256"},
		{"last payload byte", flip(l.end - 1)(clone(good)), Limits{}, nil, ErrCorrupt, "sha256"},
		{"trailing garbage", append(clone(good), 'x'), Limits{}, nil, ErrCorrupt, "data follows the payload's 15000 bytes"},
		{"untrusted key", mustBundle(t, testHeader(payload), payload, other), Limits{}, nil, ErrUntrusted,
			"signed by key " + IDOf(pub(other)).String() + ", which is not trusted (trusted: " + id.String() + ")"},
		{"no trusted key", good, Limits{}, []ed25519.PublicKey{}, ErrUntrusted, "trusted: no key"},
		{"wrong signer with a trusted id", wrongSigner, Limits{}, nil, ErrUntrusted, "signature by key " + id.String() + " does not verify"},
		{"format 2", withHeader(format2), Limits{}, nil, ErrFormat, "format 2"},
		{"unknown field", withHeader(unknown), Limits{}, nil, ErrFormat, `unknown field "channel"`},
		{"data after the JSON", withHeader(string(hb) + "{}"), Limits{}, nil, ErrFormat, "after the JSON object"},
		{"not JSON", withHeader("MKUP"), Limits{}, nil, ErrFormat, "decoding the header"},
		{"empty keys", withHeader(strings.Replace(string(hb), `"meta"`, `"keys":[],"meta"`, 1)), Limits{}, nil, ErrFormat, "trusts no key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trusted := tt.trusted
			if trusted == nil {
				trusted = []ed25519.PublicKey{pub(priv)}
			}
			_, got, err := readBundle(tt.data, trusted, tt.lim)
			if tt.want == nil {
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("read %d bytes, %v", len(got), err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want %v with %q", err, tt.want, tt.msg)
			}
		})
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func setLen(b []byte, n uint32) []byte { binary.BigEndian.PutUint32(b[5:], n); return b }

// TestTruncate cuts a bundle at each region's start and in the middle of
// each region: every cut is ErrTruncated, from Open or from the payload.
func TestTruncate(t *testing.T) {
	priv := testKey(1)
	payload := bytes.Repeat([]byte("0123456789"), 100)
	good := mustBundle(t, testHeader(payload), payload, priv)
	l := layoutOf(good)
	cuts := map[string]int{
		"empty": 0, "in the magic": 2, "after the magic": 4, "after the format byte": 5,
		"in the header length": 7, "after the header length": l.header,
		"in the header": (l.header + l.keyID) / 2, "after the header": l.keyID,
		"in the key id": l.keyID + 4, "after the key id": l.sig,
		"in the signature": l.sig + 32, "after the signature": l.payload,
		"in the payload": (l.payload + l.end) / 2, "one byte short": l.end - 1,
	}
	for name, cut := range cuts {
		t.Run(name, func(t *testing.T) {
			_, _, err := readBundle(good[:cut], []ed25519.PublicKey{pub(priv)}, Limits{})
			if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "ends at byte") {
				t.Fatalf("cut at %d of %d: %v, want ErrTruncated", cut, len(good), err)
			}
		})
	}
	// The payload's error is not io.EOF and stays; Verify repeats it.
	r, err := Open(bytes.NewReader(good[:l.end-1]), []ed25519.PublicKey{pub(priv)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r.Payload())
	if n != int64(len(payload)-1) || !errors.Is(err, ErrTruncated) {
		t.Fatalf("payload: %d bytes, %v", n, err)
	}
	if _, err2 := r.Payload().Read(make([]byte, 1)); err2 != err {
		t.Errorf("second read: %v, want the same error", err2)
	}
	if err := r.Verify(); !errors.Is(err, ErrTruncated) {
		t.Errorf("Verify: %v, want ErrTruncated", err)
	}
}

// TestVerifyFinal: once Verify saw trailing data it says so again, though
// the stream is now at its end.
func TestVerifyFinal(t *testing.T) {
	priv := testKey(1)
	payload := []byte("image")
	data := append(mustBundle(t, testHeader(payload), payload, priv), 'x')
	r, err := Open(bytes.NewReader(data), []ed25519.PublicKey{pub(priv)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r.Payload()); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := r.Verify(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Verify call %d: %v, want ErrCorrupt", i+1, err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	priv := testKey(1)
	payload := []byte("the payload")
	tests := []struct {
		name    string
		edit    func(*Header)
		payload []byte
		priv    ed25519.PrivateKey
		msg     string
	}{
		{"shorter payload", nil, payload[:5], priv, "it has 5 bytes, the header says 11"},
		{"longer payload", nil, append(clone(payload), '!'), priv, "longer than the header's 11 bytes"},
		{"other bytes", nil, []byte("the paylaod"), priv, "its sha256 is"},
		{"no sha256", func(h *Header) { h.Payload.SHA256 = "" }, payload, priv, "not 64 lowercase hex digits"},
		{"uppercase sha256", func(h *Header) { h.Payload.SHA256 = strings.ToUpper(h.Payload.SHA256) }, payload, priv, "not 64 lowercase hex digits"},
		{"no size", func(h *Header) { h.Payload.Size = 0 }, payload, priv, "payload size 0"},
		{"no format", func(h *Header) { h.Format = 0 }, payload, priv, "format 0"},
		{"leading v", func(h *Header) { h.Version = "v1.4.0" }, payload, priv, `"v1.4.0" is not a semantic version`},
		{"short version", func(h *Header) { h.Version = "1.4" }, payload, priv, `"1.4" is not a semantic version`},
		{"no board, no arch", func(h *Header) { h.Board, h.Arch = "", "" }, payload, priv, "board is empty; arch is empty"},
		{"encoding", func(h *Header) { h.Payload.Encoding = "gzip" }, payload, priv, `encoding "gzip"`},
		{"raw size", func(h *Header) { h.Payload.ImageSize = 99 }, payload, priv, "image_size 99 differs from its size 11"},
		{"zstd without image size", func(h *Header) { h.Payload.Encoding, h.Payload.ImageSize = EncodingZstd, 0 }, payload, priv, "image_size 0"},
		{"bad key", func(h *Header) { h.Keys = []string{"ssh-ed25519 AAAA"} }, payload, priv, "key 1 of 1"},
		{"huge header", func(h *Header) { h.Meta = map[string]string{"x": strings.Repeat("x", MaxHeader)} }, payload, priv, "the format allows 65536"},
		{"short private key", nil, payload, priv[:10], "private key has 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader(payload)
			if tt.edit != nil {
				tt.edit(&h)
			}
			err := Write(io.Discard, h, bytes.NewReader(tt.payload), tt.priv)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Write: %v, want %q", err, tt.msg)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	priv := testKey(3)
	dir := t.TempDir()
	path := filepath.Join(dir, "image.raw")
	payload := bytes.Repeat([]byte{1, 2, 3, 4}, 70000)
	if err := os.WriteFile(path, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	h := Header{Format: FormatVersion, Board: "pc", Arch: "amd64", Version: "2.0.0-rc.1", Payload: Payload{Encoding: EncodingRaw}}
	var b bytes.Buffer
	if err := Create(&b, h, path, priv); err != nil {
		t.Fatal(err)
	}
	gh, got, err := readBundle(b.Bytes(), []ed25519.PublicKey{pub(priv)}, Limits{})
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	if gh.Payload.Size != int64(len(payload)) || gh.Payload.ImageSize != int64(len(payload)) {
		t.Errorf("payload = %+v", gh.Payload)
	}
	err = Create(io.Discard, h, filepath.Join(dir, "missing"), priv)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "opening the bundle's payload") {
		t.Errorf("missing file: %v", err)
	}
}
