// Package debian puts Debian 12 (bookworm) packages into an image: it
// resolves named packages and their dependencies with apt, downloads the
// .debs and unpacks them with dpkg-deb, all in a private apt state under
// the user's cache, so nothing is installed on the host and an arm64 image
// can be made on an amd64 host.
//
// # Which packages
//
// apt resolves the named packages against an empty dpkg status file: the
// result is the closure of their Depends and Pre-Depends (no Recommends,
// no Suggests) and nothing else. Essential packages (dash, coreutils...)
// are not added for being Essential, only when something in the closure
// depends on them: Debian lets packages leave out dependencies on the
// Essential set, but what it needs them for is maintainer scripts and
// shell commands, which an appliance does not run. libc6 is not
// Essential and every dynamically linked package depends on it, so the
// image gets its C library through the ordinary dependency.
//
// # Maintainer scripts
//
// No maintainer script runs. A package's preinst and postinst are read
// instead (see scripts.go): what debhelper generates for byte-compiling,
// ldconfig, services and the like is skipped, update-alternatives links
// are made directly, a few packages whose scripts only matter on a running
// Debian system are allowed by name, and any other package with such a
// script is refused, naming the package, the script and the line.
//
// # What is dropped
//
// Documentation, manual and info pages, translations (all but C), lintian
// overrides, reportbug hooks, menus and shell completions: see dropped.
package debian

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Package is one Debian package chosen for the image.
type Package struct {
	Name    string
	Arch    string // the package's own: the image's or "all"
	Version string
	// SHA256 is the .deb's hash, DebBytes its size.
	SHA256   string
	DebBytes int64
	// Bytes is what it installs after the drop; Dir is that tree.
	Bytes int64
	Dir   string
	// Links are the update-alternatives links its postinst would make
	// (path in the image -> target).
	Links map[string]string
}

// Fetcher resolves and fetches packages for one architecture. The zero
// value of every field but Arch has a default.
type Fetcher struct {
	// Arch is the Debian architecture: "amd64" or "arm64".
	Arch string
	// Cache holds apt's lists and archives and the unpacked packages.
	// Default: $XDG_CACHE_HOME/mkimage/debian/ARCH.
	Cache string
	// Sources are sources.list lines. Default: the host's Debian mirrors
	// for bookworm, bookworm-updates and bookworm-security (HostSources).
	Sources []string
	// Progress gets a line per step; nil discards.
	Progress io.Writer
}

func (f *Fetcher) cacheDir() (string, error) {
	if f.Cache != "" {
		return f.Cache, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache for Debian packages: %w", err)
	}
	return filepath.Join(dir, "mkimage", "debian", f.Arch), nil
}

func (f *Fetcher) say(format string, args ...any) {
	if f.Progress != nil {
		fmt.Fprintf(f.Progress, format+"\n", args...)
	}
}
