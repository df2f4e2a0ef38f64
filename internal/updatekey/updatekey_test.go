package updatekey

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/bundle"
)

func TestDefaultPaths(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	for _, c := range []struct {
		name string
		fn   func() (string, error)
		want string
	}{
		{"DefaultDir", DefaultDir, filepath.Join(dir, "mkimage")},
		{"PrivatePath", PrivatePath, filepath.Join(dir, "mkimage", "update.key")},
		{"PublicPath", PublicPath, filepath.Join(dir, "mkimage", "update.pub")},
	} {
		if got, err := c.fn(); got != c.want || err != nil {
			t.Errorf("%s() = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	priv, err := bundle.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := bundle.MarshalPrivate(priv)
	if err != nil {
		t.Fatal(err)
	}
	line := bundle.FormatPublic(priv.Public().(ed25519.PublicKey), "me@host")
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, pub := write("update.key", string(pem)), write("update.pub", line+"\n")
	bad := write("bad", "not a key\n")
	missing := filepath.Join(dir, "missing")

	if got, err := ReadSigningKey(good); err != nil || !got.Equal(priv) {
		t.Errorf("ReadSigningKey: %v", err)
	}
	if got, err := ReadPublicKey(pub); err != nil || got != line {
		t.Errorf("ReadPublicKey = %q, %v; want %q", got, err, line)
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"private missing", func() error { _, err := ReadSigningKey(missing); return err }(), "mkimage keygen"},
		{"private bad", func() error { _, err := ReadSigningKey(bad); return err }(), bad},
		{"public missing", func() error { _, err := ReadPublicKey(missing); return err }(), "no such file"},
		{"public bad", func() error { _, err := ReadPublicKey(bad); return err }(), bad},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, c.err, c.want)
		}
	}
	if _, err := ReadPublicKey(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing public key: %v, want os.ErrNotExist", err)
	}
}
