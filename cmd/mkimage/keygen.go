package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"

	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/updatekey"
)

// cmdKeygen makes the ed25519 key pair that signs updates.
func cmdKeygen(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("keygen", out)
	dir := fs.String("o", "", "directory for "+updatekey.PrivateName+" and "+updatekey.PublicName+" (default: the user's config dir/mkimage)")
	force := fs.Bool("f", false, "replace an existing key pair (appliances that trust only the old key will refuse updates signed by the new one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the directory is given with -o)", fs.Arg(0))
	}
	if *dir == "" {
		d, err := updatekey.DefaultDir()
		if err != nil {
			return fmt.Errorf("%w (give a directory with -o)", err)
		}
		*dir = d
	}
	priv, err := bundle.GenerateKey(nil)
	if err != nil {
		return err
	}
	privPEM, err := bundle.MarshalPrivate(priv)
	if err != nil {
		return err
	}
	pub := priv.Public().(ed25519.PublicKey)
	pubLine := bundle.FormatPublic(pub, keyComment())
	keyPath, pubPath := filepath.Join(*dir, updatekey.PrivateName), filepath.Join(*dir, updatekey.PublicName)
	if err := writeKeyPair(*dir, keyPath, pubPath, privPEM, []byte(pubLine+"\n"), *force); err != nil {
		return err
	}
	fmt.Fprintf(out, "private key  %s (keep it secret: it signs your updates)\n", keyPath)
	fmt.Fprintf(out, "public key   %s\n", pubPath)
	fmt.Fprintf(out, "key id       %s\n", bundle.IDOf(pub))
	fmt.Fprintf(out, "Appliances trust the keys listed in appliance.toml's [update] section:\n  [update]\n  keys = [%q]\n", pubLine)
	fmt.Fprintf(out, "When keys is not set, mkimage build reads the public key from %s.\n", pubPath)
	return nil
}

// keyComment is user@host, to tell keys apart in a list.
func keyComment() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); name == "" && err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	if name == "" || host == "" {
		return name + host
	}
	return name + "@" + host
}

// writeKeyPair writes the private key (0600) and the public key (0644) in
// dir, made 0700 if it does not exist. Without force it refuses to replace
// either file, and leaves no half pair behind.
func writeKeyPair(dir, keyPath, pubPath string, privPEM, pubLine []byte, force bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("making the key directory: %w", err)
	}
	if !force {
		for _, p := range []string{keyPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists: appliances that trust its key would refuse updates signed by a new one; -f replaces it", p)
			} else if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("checking for an existing key: %w", err)
			}
		}
	}
	if err := writeKeyFile(keyPath, privPEM, 0o600, force); err != nil {
		return err
	}
	if err := writeKeyFile(pubPath, pubLine, 0o644, force); err != nil {
		if !force {
			os.Remove(keyPath)
		}
		return err
	}
	return nil
}

// writeKeyFile writes data to path with exactly mode perm. Without force
// it creates the file (O_EXCL); with force it replaces it atomically.
func writeKeyFile(path string, data []byte, perm os.FileMode, force bool) error {
	var f *os.File
	var err error
	if force {
		f, err = os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	} else {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	}
	if err != nil {
		return fmt.Errorf("writing the key: %w", err)
	}
	err = f.Chmod(perm) // exactly perm, whatever the umask
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && force {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing the key %s: %w", path, err)
	}
	return nil
}
