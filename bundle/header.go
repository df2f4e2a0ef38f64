package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// FormatVersion is the only format this package reads and writes: the
// byte after the magic and the header's Format.
const FormatVersion = 1

// MaxHeader is the largest header the format allows.
const MaxHeader = 64 << 10

// Payload encodings.
const (
	EncodingZstd = "zstd"
	EncodingRaw  = "raw"
)

// Header is a bundle's signed description of itself.
type Header struct {
	Format int `json:"format"`
	// Board and Arch are what the image is built for (board.Board's Name
	// and GOARCH).
	Board string `json:"board"`
	Arch  string `json:"arch"`
	// Version is the appliance's version: semver without a leading v.
	Version string `json:"version"`
	// Downgrade permits installing a version older than or equal to the
	// running one.
	Downgrade bool `json:"downgrade"`
	// Created is informational.
	Created time.Time `json:"created"`
	Payload Payload   `json:"payload"`
	// Keys, when present, is the new list of trusted public keys (public
	// key lines), applied only after the whole bundle verified.
	Keys []string `json:"keys,omitempty"`
	// Meta is free text: the tool's version, the kernel's...
	Meta map[string]string `json:"meta,omitempty"`
}

// Payload describes the bytes that follow the signature block.
type Payload struct {
	// Size is the exact number of payload bytes.
	Size int64 `json:"size"`
	// SHA256 is their hash, 64 lowercase hex digits.
	SHA256 string `json:"sha256"`
	// Encoding is EncodingZstd or EncodingRaw.
	Encoding string `json:"encoding"`
	// ImageSize is the decoded size: what will be written to the slot.
	ImageSize int64 `json:"image_size"`
}

// encodeHeader checks h and returns the bytes that go into a bundle.
func encodeHeader(h Header) ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encoding the bundle header: %w", err)
	}
	if len(b) > MaxHeader {
		return nil, fmt.Errorf("%w: header is %d bytes, the format allows %d", ErrFormat, len(b), MaxHeader)
	}
	return b, nil
}

// decodeHeader decodes header bytes strictly: one JSON object, no unknown
// fields, nothing after it, and a valid header.
func decodeHeader(b []byte) (Header, error) {
	var h Header
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return Header{}, fmt.Errorf("%w: decoding the header: %w", ErrFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Header{}, fmt.Errorf("%w: decoding the header: data after the JSON object", ErrFormat)
	}
	if err := h.validate(); err != nil {
		return Header{}, err
	}
	return h, nil
}

// validate reports every problem of h at once.
func (h Header) validate() error {
	var errs []string
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	if h.Format != FormatVersion {
		bad("format %d, this reader knows format %d", h.Format, FormatVersion)
	}
	if h.Board == "" {
		bad("board is empty")
	}
	if h.Arch == "" {
		bad("arch is empty")
	}
	if err := ValidVersion(h.Version); err != nil {
		bad("version: %v", err)
	}
	p := h.Payload
	if p.Size <= 0 {
		bad("payload size %d, want > 0", p.Size)
	}
	if !isSHA256Hex(p.SHA256) {
		bad("payload sha256 %q is not 64 lowercase hex digits", abbrev(p.SHA256))
	}
	switch p.Encoding {
	case EncodingZstd:
		if p.ImageSize <= 0 {
			bad("payload image_size %d, want > 0", p.ImageSize)
		}
	case EncodingRaw:
		if p.ImageSize != p.Size {
			bad("payload image_size %d differs from its size %d, but the encoding is %q", p.ImageSize, p.Size, EncodingRaw)
		}
	default:
		bad("payload encoding %q, want %q or %q", abbrev(p.Encoding), EncodingZstd, EncodingRaw)
	}
	if h.Keys != nil {
		if _, err := ParseKeys(h.Keys); err != nil {
			bad("keys: %v (a bundle that trusts no key would refuse every later update)", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: bad header: %s", ErrFormat, strings.Join(errs, "; "))
}

// ValidVersion accepts what a Version may be: strict semver without a
// leading v, MAJOR.MINOR.PATCH with an optional -prerelease and +build
// ("1.4", which golang.org/x/mod/semver takes as 1.4.0, is refused).
func ValidVersion(v string) error {
	core, _, _ := strings.Cut(v, "+")
	if v == "" || v[0] == 'v' || !semver.IsValid("v"+v) || semver.Canonical("v"+v) != "v"+core {
		return fmt.Errorf("%q is not a semantic version like 1.4.0", abbrev(v))
	}
	return nil
}

// compareVersions is -1, 0 or +1 as a is older than, equal to or newer
// than b (build metadata is ignored); both must be valid.
func compareVersions(a, b string) int {
	return semver.Compare("v"+a, "v"+b)
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
