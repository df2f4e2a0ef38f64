package updatekey

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	"github.com/mkimage/mkimage/bundle"
)

// Pair is a key pair Generate wrote.
type Pair struct {
	KeyPath, PubPath string
	PubLine          string // "mkimage-ed25519 ... user@host"
	ID               bundle.KeyID
}

// Generate makes an ed25519 key pair in dir (made 0700 if missing): the
// private key 0600, the public key 0644. Without force it refuses to
// replace either file and leaves no half pair behind.
func Generate(dir string, force bool) (Pair, error) {
	priv, err := bundle.GenerateKey(nil)
	if err != nil {
		return Pair{}, err
	}
	privPEM, err := bundle.MarshalPrivate(priv)
	if err != nil {
		return Pair{}, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	p := Pair{KeyPath: filepath.Join(dir, PrivateName), PubPath: filepath.Join(dir, PublicName),
		PubLine: bundle.FormatPublic(pub, keyComment()), ID: bundle.IDOf(pub)}
	if err := writeKeyPair(dir, p.KeyPath, p.PubPath, privPEM, []byte(p.PubLine+"\n"), force); err != nil {
		return Pair{}, err
	}
	return p, nil
}

// EnsureDefault makes the default key pair when neither of its files
// exists (made is then true); an existing pair, or half of one, is left
// as it is.
func EnsureDefault() (p Pair, made bool, err error) {
	dir, err := DefaultDir()
	if err != nil {
		return Pair{}, false, err
	}
	for _, name := range []string{PrivateName, PublicName} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			return Pair{}, false, err
		}
	}
	p, err = Generate(dir, false)
	if err != nil && exists(filepath.Join(dir, PrivateName)) && exists(filepath.Join(dir, PublicName)) {
		return Pair{}, false, nil // another build made it at the same time
	}
	return p, err == nil, err
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
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
