package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/updatekey"
)

func keygen(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := cmdKeygen(context.Background(), args, &out)
	return out.String(), err
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestKeygen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	keyPath, pubPath := filepath.Join(dir, updatekey.PrivateName), filepath.Join(dir, updatekey.PublicName)
	out, err := keygen(t, "-o", dir)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, keyPath: 0o600, pubPath: 0o644} {
		if got := mode(t, path); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	priv, err := updatekey.ReadSigningKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	pubText, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := bundle.ParsePublic(string(pubText))
	if err != nil || !pub.Equal(priv.Public()) {
		t.Fatalf("%s does not hold the public half of %s: %v", pubPath, keyPath, err)
	}
	line := strings.TrimSpace(string(pubText))
	for _, want := range []string{keyPath, pubPath, "key id       " + bundle.IDOf(pub).String(), "[update]", `keys = ["` + line + `"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// The pair signs a bundle that the public key, as an image carries it, verifies.
	payload := []byte("a new system")
	sum := sha256.Sum256(payload)
	h := bundle.Header{Format: bundle.FormatVersion, Board: "pc", Arch: "amd64", Version: "1.0.0",
		Payload: bundle.Payload{Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:]), Encoding: bundle.EncodingRaw, ImageSize: int64(len(payload))}}
	var b bytes.Buffer
	if err := bundle.Write(&b, h, bytes.NewReader(payload), priv); err != nil {
		t.Fatal(err)
	}
	trusted, err := bundle.ParseKeys([]string{line})
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(&b, trusted, bundle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r.Payload()); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}

	// A second run refuses to replace the pair and leaves it as it was.
	if _, err := keygen(t, "-o", dir); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second keygen: %v, want a refusal", err)
	}
	if again, _ := updatekey.ReadSigningKey(keyPath); !again.Equal(priv) {
		t.Fatal("a refused keygen changed the key")
	}
	// With only the public key left, it still refuses (no half pair).
	os.Remove(keyPath)
	if _, err := keygen(t, "-o", dir); err == nil {
		t.Fatal("keygen replaced a lone public key without -f")
	}
	if _, err := os.Stat(keyPath); !os.IsNotExist(err) {
		t.Errorf("a refused keygen left %s: %v", keyPath, err)
	}

	// -f replaces both, with the same modes, even over a looser file.
	if err := os.WriteFile(keyPath, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keygen(t, "-o", dir, "-f"); err != nil {
		t.Fatal(err)
	}
	newKey, err := updatekey.ReadSigningKey(keyPath)
	if err != nil || newKey.Equal(priv) {
		t.Fatalf("-f: key %v, same as before %v", err, newKey.Equal(priv))
	}
	if got := mode(t, keyPath); got != 0o600 {
		t.Errorf("after -f: %s mode %v, want 0600", keyPath, got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("after -f the directory holds %d files, want 2", len(entries))
	}
}

// TestKeygenDefaultDir: without -o the pair goes to $XDG_CONFIG_HOME/mkimage.
func TestKeygenDefaultDir(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	out, err := keygen(t)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cfg, "mkimage", updatekey.PrivateName)
	if _, err := updatekey.ReadSigningKey(want); err != nil || !strings.Contains(out, want) {
		t.Fatalf("key at %s: %v; output:\n%s", want, err, out)
	}
	if _, err := keygen(t, "extra"); err == nil {
		t.Error("keygen took an argument")
	}
}
