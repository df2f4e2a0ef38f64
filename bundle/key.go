package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PublicKeyType is the first word of a public key line.
const PublicKeyType = "mkimage-ed25519"

const pemPrivateKey = "PRIVATE KEY"

// KeyID names a public key: the first 8 bytes of the SHA-256 of its raw 32
// bytes. A bundle's signature block starts with it.
type KeyID [8]byte

// IDOf is the id of a public key.
func IDOf(pub ed25519.PublicKey) KeyID {
	sum := sha256.Sum256(pub)
	var id KeyID
	copy(id[:], sum[:])
	return id
}

// String is the id in 16 hex digits.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// GenerateKey makes a new signing key from random (crypto/rand when nil).
func GenerateKey(random io.Reader) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return nil, fmt.Errorf("generating an ed25519 key: %w", err)
	}
	return priv, nil
}

// MarshalPrivate encodes a private key as PEM "PRIVATE KEY" (PKCS #8).
func MarshalPrivate(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("encoding a private key: %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key as PKCS #8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// ParsePrivate decodes what MarshalPrivate wrote: exactly one unencrypted
// PEM "PRIVATE KEY" block holding an ed25519 key, and nothing else.
func ParsePrivate(data []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(data)
	switch {
	case block == nil:
		return nil, errors.New("reading a private key: no PEM block")
	case block.Type != pemPrivateKey:
		return nil, fmt.Errorf("reading a private key: PEM block is %q, want %q", block.Type, pemPrivateKey)
	case len(block.Headers) != 0:
		return nil, errors.New("reading a private key: PEM block has headers (an encrypted key?), want a plain PKCS #8 key")
	case len(bytes.TrimSpace(rest)) != 0:
		return nil, errors.New("reading a private key: data after the PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading a private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("reading a private key: a %T, want ed25519", key)
	}
	return priv, nil
}

// FormatPublic is the one-line text of a public key, without a newline.
// The comment's whitespace is folded to single spaces.
func FormatPublic(pub ed25519.PublicKey, comment string) string {
	s := PublicKeyType + " " + base64.StdEncoding.EncodeToString(pub)
	if c := strings.Join(strings.Fields(comment), " "); c != "" {
		s += " " + c
	}
	return s
}

// ParsePublic reads one public key line (surrounding whitespace, such as a
// file's final newline, is ignored) and returns the key and its comment.
func ParsePublic(line string) (ed25519.PublicKey, string, error) {
	line = strings.TrimSpace(line)
	if strings.ContainsAny(line, "\r\n") {
		return nil, "", errors.New("reading a public key: more than one line")
	}
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != PublicKeyType {
		return nil, "", fmt.Errorf("reading a public key: %q is not %q followed by a base64 key", abbrev(line), PublicKeyType)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(f[1])
	if err != nil {
		return nil, "", fmt.Errorf("reading a public key: base64: %w", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, "", fmt.Errorf("reading a public key: %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), strings.Join(f[2:], " "), nil
}

// ParseKeys reads a list of public key lines (appliance.toml's keys, a
// header's Keys). An empty list is an error: it would trust no key at all.
func ParseKeys(lines []string) ([]ed25519.PublicKey, error) {
	if len(lines) == 0 {
		return nil, errors.New("reading public keys: the list is empty")
	}
	keys := make([]ed25519.PublicKey, 0, len(lines))
	for i, l := range lines {
		k, _, err := ParsePublic(l)
		if err != nil {
			return nil, fmt.Errorf("key %d of %d: %w", i+1, len(lines), err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// abbrev shortens s for an error message.
func abbrev(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
