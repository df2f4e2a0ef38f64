package bundle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

func TestPrivateRoundTrip(t *testing.T) {
	priv, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := MarshalPrivate(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("MarshalPrivate = %q", data)
	}
	got, err := ParsePrivate(data)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("ParsePrivate: %v, equal %v", err, got.Equal(priv))
	}
	if _, err := MarshalPrivate(priv[:31]); err == nil {
		t.Error("MarshalPrivate took a short key")
	}
}

func TestParsePrivateErrors(t *testing.T) {
	good, _ := MarshalPrivate(testKey(1))
	der, _ := x509.MarshalPKCS8PrivateKey(testKey(1))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), bytes.NewReader(bytes.Repeat([]byte{7}, 100)))
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	block := func(typ string, h map[string]string, b []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: h, Bytes: b})
	}
	tests := []struct {
		name string
		data []byte
		msg  string
	}{
		{"empty", nil, "no PEM block"},
		{"public key line", []byte(FormatPublic(pub(testKey(1)), "")), "no PEM block"},
		{"other type", block("OPENSSH PRIVATE KEY", nil, der), `PEM block is "OPENSSH PRIVATE KEY"`},
		{"encrypted", block("PRIVATE KEY", map[string]string{"Proc-Type": "4,ENCRYPTED"}, der), "has headers"},
		{"trailing data", append(clone(good), "junk"...), "data after the PEM block"},
		{"two keys", append(clone(good), good...), "data after the PEM block"},
		{"bad DER", block("PRIVATE KEY", nil, der[:20]), "reading a private key: "},
		{"ecdsa", block("PRIVATE KEY", nil, ecDER), "a *ecdsa.PrivateKey, want ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivate(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("ParsePrivate: %v, want %q", err, tt.msg)
			}
		})
	}
	// Surrounding whitespace, as an editor leaves it, is fine.
	if _, err := ParsePrivate(append(append([]byte("\n"), good...), "\n\n"...)); err != nil {
		t.Errorf("with blank lines: %v", err)
	}
}

func TestPublic(t *testing.T) {
	k := pub(testKey(1))
	b64 := base64.StdEncoding.EncodeToString(k)
	tests := []struct {
		line, comment string
		msg           string // "" means it parses
	}{
		{"mkimage-ed25519 " + b64, "", ""},
		{"mkimage-ed25519 " + b64 + " alice@laptop", "alice@laptop", ""},
		{"  mkimage-ed25519\t" + b64 + "  release  key \n", "release key", ""},
		{"", "", "is not \"mkimage-ed25519\" followed by a base64 key"},
		{"mkimage-ed25519", "", "followed by a base64 key"},
		{"ssh-ed25519 " + b64, "", "followed by a base64 key"},
		{"mkimage-ed25519 " + strings.TrimRight(b64, "="), "", "base64"},
		{"mkimage-ed25519 " + b64[:20] + "!" + b64[21:], "", "base64"},
		{"mkimage-ed25519 " + base64.StdEncoding.EncodeToString(k[:16]), "", "16 bytes, want 32"},
		{"mkimage-ed25519 " + b64 + "\nmkimage-ed25519 " + b64, "", "more than one line"},
	}
	for _, tt := range tests {
		got, comment, err := ParsePublic(tt.line)
		if tt.msg != "" {
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParsePublic(%q): %v, want %q", tt.line, err, tt.msg)
			}
			continue
		}
		if err != nil || !got.Equal(k) || comment != tt.comment {
			t.Errorf("ParsePublic(%q) = %x, %q, %v", tt.line, got, comment, err)
		}
	}
	if got := FormatPublic(k, " a\nb "); got != "mkimage-ed25519 "+b64+" a b" {
		t.Errorf("FormatPublic = %q", got)
	}
}

func TestParseKeys(t *testing.T) {
	a, b := FormatPublic(pub(testKey(1)), "a"), FormatPublic(pub(testKey(2)), "")
	keys, err := ParseKeys([]string{a, b})
	if err != nil || len(keys) != 2 || !keys[1].Equal(pub(testKey(2))) {
		t.Fatalf("ParseKeys = %v, %v", keys, err)
	}
	if _, err := ParseKeys(nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("ParseKeys(nil): %v", err)
	}
	if _, err := ParseKeys([]string{a, "mkimage-ed25519 xx"}); err == nil || !strings.Contains(err.Error(), "key 2 of 2") {
		t.Errorf("ParseKeys with a bad second key: %v", err)
	}
}

func TestKeyID(t *testing.T) {
	// The first 8 bytes of sha256 of the raw key, printed in hex.
	k := ed25519.PublicKey(make([]byte, 32))
	if got := IDOf(k).String(); got != "66687aadf862bd77" {
		t.Errorf("IDOf(zero key) = %s", got)
	}
}
