// Package guestsrc unpacks the guest sources the mkimage binary carries
// (the root package's GuestSource) into the user's cache, where the go
// command builds the guest programs, and serves the same tree as a module
// to the go command through a file:// module proxy, so a user's own app
// can require github.com/mkimage/mkimage like a published module.
//
// Every build unpacks from the binary, in a source checkout too: a build by
// an installed binary and one in the tree at the same commit are the same
// build.
package guestsrc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mkimage/mkimage"
)

// Module is this tool's module path.
const Module = "github.com/mkimage/mkimage"

// keep is how long an unpacked tree or served version nobody used stays.
const keep = 30 * 24 * time.Hour

// Tree is the guest source unpacked on disk.
type Tree struct {
	// Dir is the module's root: the go command builds guest programs here.
	Dir string
	// Version is the module version the proxy serves this tree as.
	Version string
	// Sum is the sha256 of the embedded files (names and contents), hex.
	Sum string
	// Files is how many files the tree has, Bytes their total size.
	Files int
	Bytes int64
	// ProxyDir is the file:// module proxy's root.
	ProxyDir string
}

// Open unpacks the binary's guest sources under the user's cache
// directory (once per version) and returns the tree.
func Open() (Tree, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return Tree{}, fmt.Errorf("finding the cache directory for the guest sources: %w", err)
	}
	return Unpack(mkimage.GuestSource, filepath.Join(dir, "mkimage"))
}

// Unpack writes src under root/src/SUM and its module zip under
// root/modproxy, unless they are there already.
func Unpack(src fs.FS, root string) (Tree, error) {
	t, err := Describe(src)
	if err != nil {
		return t, err
	}
	t.Dir = filepath.Join(root, "src", t.Sum[:16])
	t.ProxyDir = filepath.Join(root, "modproxy")
	if err := unpackOnce(src, t.Dir); err != nil {
		return t, fmt.Errorf("unpacking the guest sources into %s: %w", t.Dir, err)
	}
	if err := serve(src, t); err != nil {
		return t, fmt.Errorf("serving %s@%s in %s: %w", Module, t.Version, t.ProxyDir, err)
	}
	prune(filepath.Join(root, "src"), t.Dir)
	return t, nil
}

// Describe hashes src and names its version without writing anything.
func Describe(src fs.FS) (Tree, error) {
	var t Tree
	h := sha256.New()
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		fh := sha256.Sum256(data)
		fmt.Fprintf(h, "%x  %s\n", fh, p)
		t.Files++
		t.Bytes += int64(len(data))
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("reading the embedded guest sources: %w", err)
	}
	t.Sum = hex.EncodeToString(h.Sum(nil))
	t.Version = ModuleVersion(mkimage.Version, t.Sum)
	return t, nil
}

// ModuleVersion is the module version of a tool version: a release serves
// itself as v{version}; a development version as v{version}.g{sum[:12]},
// so that every change to the sources is a version of its own (the go
// command's module cache never changes a version once it holds it).
func ModuleVersion(version, sum string) string {
	if strings.Contains(version, "-") {
		return "v" + version + ".g" + sum[:12]
	}
	return "v" + version
}

// unpackOnce writes src into dir through a temporary directory renamed
// into place, so a tree that exists is complete.
func unpackOnce(src fs.FS, dir string) error {
	now := time.Now()
	if _, err := os.Stat(dir); err == nil {
		return os.Chtimes(dir, now, now) // in use: prune keeps it
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if d.IsDir() {
			return os.Mkdir(dst, 0o755)
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		// Read-only: the tree is the binary's, edits belong in a checkout.
		return os.WriteFile(dst, data, 0o444)
	})
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return nil // another mkimage unpacked it first
		}
		return err
	}
	return nil
}

// prune removes unpacked trees unused for longer than keep, except cur.
func prune(parent, cur string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(parent, e.Name())
		info, err := e.Info()
		if err != nil || p == cur || time.Since(info.ModTime()) < keep {
			continue
		}
		_ = os.RemoveAll(p) // best effort: a tree in use elsewhere is unpacked again
	}
}
