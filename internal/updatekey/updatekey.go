// Package updatekey locates and reads the key pair that signs updates:
// `mkimage keygen` writes it, `mkimage build` bakes the public key into an
// image when [update] keys is not set, `mkimage update` signs with the
// private key.
package updatekey

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mkimage/mkimage/bundle"
)

// File names of the pair in its directory.
const (
	PrivateName = "update.key"
	PublicName  = "update.pub"
)

// DefaultDir is the user's config directory + /mkimage
// ($XDG_CONFIG_HOME/mkimage, else ~/.config/mkimage on Linux).
func DefaultDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's config directory for the update keys: %w", err)
	}
	return filepath.Join(dir, "mkimage"), nil
}

// PrivatePath is the default private key file.
func PrivatePath() (string, error) { return inDefaultDir(PrivateName) }

// PublicPath is the default public key file.
func PublicPath() (string, error) { return inDefaultDir(PublicName) }

func inDefaultDir(name string) (string, error) {
	dir, err := DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// ReadSigningKey reads a private key keygen wrote. A missing file is an
// error that wraps os.ErrNotExist and says how to make one.
func ReadSigningKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the signing key: %w (run `mkimage keygen` to make one)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the signing key: %w", err)
	}
	priv, err := bundle.ParsePrivate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv, nil
}

// ReadPublicKey reads a public key file keygen wrote and returns its line
// ("mkimage-ed25519 ..."), checked. A missing file's error wraps
// os.ErrNotExist.
func ReadPublicKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the public update key: %w", err)
	}
	line := strings.TrimSpace(string(data))
	if _, _, err := bundle.ParsePublic(line); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return line, nil
}
