// Package small builds the small kernel (`[kernel] build = "small"`):
// Debian's linux-source package configured with `make tinyconfig`, the
// architecture's fragment (x86_64.config, arm64.config: only what the
// appliance and the QEMU boards use) and `make olddefconfig`. arm64 is
// cross-compiled on an x86_64 host with Debian's gcc-aarch64-linux-gnu.
// The result is cached by source, fragment, architecture and this
// builder's version, and is the same bytes every time (fixed build
// timestamp, user, host and version).
package small

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// builderVersion changes when the way the kernel is built changes, so a
// cached kernel built the old way is not reused.
const builderVersion = "1"

var (
	//go:embed x86_64.config
	x86Fragment string
	//go:embed arm64.config
	arm64Fragment string
)

// Arch is how one architecture's small kernel is built.
type Arch struct {
	GOARCH   string // amd64, arm64
	KArch    string // the kernel's ARCH=
	Target   string // the make target
	Image    string // the target's file in the tree
	Fragment string // the config fragment's text
	// Cross is the CROSS_COMPILE prefix and CrossPackage the Debian
	// package that has it, for a host of another architecture.
	Cross, CrossPackage string
}

// arches are the architectures the small kernel is made for.
var arches = []Arch{
	{GOARCH: "amd64", KArch: "x86_64", Target: "bzImage", Image: "arch/x86/boot/bzImage",
		Fragment: x86Fragment, Cross: "x86_64-linux-gnu-", CrossPackage: "gcc-x86-64-linux-gnu"},
	{GOARCH: "arm64", KArch: "arm64", Target: "Image", Image: "arch/arm64/boot/Image",
		Fragment: arm64Fragment, Cross: "aarch64-linux-gnu-", CrossPackage: "gcc-aarch64-linux-gnu"},
}

// ForGOARCH returns the small kernel's recipe for goarch.
func ForGOARCH(goarch string) (Arch, error) {
	for _, a := range arches {
		if a.GOARCH == goarch {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("the small kernel is made for amd64 and arm64, not %s", goarch)
}

// crossPrefix is the CROSS_COMPILE value on this host ("" when native).
func (a Arch) crossPrefix() string {
	if a.GOARCH == runtime.GOARCH {
		return ""
	}
	return a.Cross
}

// Kernel is a built (or cached) small kernel.
type Kernel struct {
	Path       string // the kernel image
	Source     Source // what it was built from
	ConfigHash string // sha256 of the resolved .config, hex
}

// Options tell Build where to cache and whom to tell.
type Options struct {
	// CacheDir holds the kernels (e.g. ~/.cache/mkimage/small-kernel).
	CacheDir string
	// Progress gets a line when a build starts; nil discards.
	Progress io.Writer
}

// DefaultCacheDir is small-kernel under the user's cache directory.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory for the small kernel: %w", err)
	}
	return filepath.Join(dir, "mkimage", "small-kernel"), nil
}

// Build returns the small kernel for a, from the cache or built now from
// Debian's linux-source. Two builds at once (two processes) build it once:
// the second waits for the first and takes its result.
func Build(ctx context.Context, a Arch, opts Options) (Kernel, error) {
	src, err := FindSource("/usr/src")
	if err != nil {
		return Kernel{}, err
	}
	dir := filepath.Join(opts.CacheDir, cacheName(a, src))
	if k, err := cached(dir, a, src); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return Kernel{}, fmt.Errorf("making the small kernel's cache %s: %w", opts.CacheDir, err)
	}
	unlock, err := lock(ctx, dir+".lock", opts.Progress)
	if err != nil {
		return Kernel{}, err
	}
	defer unlock()
	if k, err := cached(dir, a, src); err == nil {
		return k, nil // built by another process while this one waited
	}
	if err := checkTools(a); err != nil {
		return Kernel{}, err
	}
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "kernel   building the small kernel for %s from %s (a few minutes, cached after)\n", a.GOARCH, src.Name)
	}
	if err := build(ctx, a, src, opts.CacheDir, dir); err != nil {
		return Kernel{}, err
	}
	prune(opts.CacheDir, a.GOARCH)
	return cached(dir, a, src)
}

// cacheName names a kernel's cache directory by architecture, source
// version and a hash of everything that decides its bytes.
func cacheName(a Arch, src Source) string {
	h := sha256.New()
	fmt.Fprintf(h, "builder %s\narch %s\nsource %s %s %d %d\n", builderVersion, a.GOARCH, src.Name, src.Version, src.Size, src.MTime.Unix())
	io.WriteString(h, a.Fragment)
	return fmt.Sprintf("%s-%s-%s", a.GOARCH, src.Name, hex.EncodeToString(h.Sum(nil))[:16])
}

// cached returns the kernel in dir if it is complete there.
func cached(dir string, a Arch, src Source) (Kernel, error) {
	cfg, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		return Kernel{}, err
	}
	k := Kernel{Path: filepath.Join(dir, filepath.Base(a.Image)), Source: src}
	if _, err := os.Stat(k.Path); err != nil {
		return Kernel{}, err
	}
	sum := sha256.Sum256(cfg)
	k.ConfigHash = hex.EncodeToString(sum[:])
	return k, nil
}

// lock takes an exclusive lock on the file path, waiting for its holder
// (another build of the same kernel) until ctx ends: a build that waits
// still stops on Ctrl-C or SIGTERM.
func lock(ctx context.Context, path string, progress io.Writer) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the small kernel's build: %w", err)
	}
	for said := false; ; said = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking the small kernel's build with %s: %w", path, err)
		}
		if !said && progress != nil {
			fmt.Fprintf(progress, "kernel   waiting for another build of the small kernel (%s)\n", path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another build of the small kernel: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
