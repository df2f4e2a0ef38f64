package small

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Source is Debian's kernel source tarball.
type Source struct {
	Path    string    // /usr/src/linux-source-6.1.tar.xz
	Name    string    // linux-source-6.1 (the package)
	Version string    // the package's version (6.1.192-3), or "unknown"
	Size    int64     // the tarball's size
	MTime   time.Time // the tarball's mtime (dpkg keeps the package's)
}

// FindSource returns the newest linux-source-*.tar.xz in dir.
func FindSource(dir string) (Source, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "linux-source-*.tar.xz"))
	if len(paths) == 0 {
		return Source{}, fmt.Errorf("the small kernel is built from Debian's kernel source, and %s has no linux-source-*.tar.xz: install it (apt-get install linux-source-6.1)", dir)
	}
	sort.Slice(paths, func(i, j int) bool { return versionLess(paths[i], paths[j]) })
	p := paths[len(paths)-1]
	st, err := os.Stat(p)
	if err != nil {
		return Source{}, fmt.Errorf("reading the kernel source: %w", err)
	}
	s := Source{Path: p, Name: strings.TrimSuffix(filepath.Base(p), ".tar.xz"), Size: st.Size(), MTime: st.ModTime().UTC()}
	s.Version = packageVersion(s.Name)
	return s, nil
}

// versionLess orders linux-source-X.Y paths by version (6.10 after 6.9).
func versionLess(a, b string) bool {
	va, vb := versionOf(a), versionOf(b)
	for i := 0; i < len(va) && i < len(vb); i++ {
		if va[i] != vb[i] {
			return va[i] < vb[i]
		}
	}
	return len(va) < len(vb)
}

func versionOf(path string) []int {
	v := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "linux-source-"), ".tar.xz")
	var out []int
	for _, f := range strings.Split(v, ".") {
		n := 0
		fmt.Sscanf(f, "%d", &n)
		out = append(out, n)
	}
	return out
}

// packageVersion asks dpkg for the installed package's version.
func packageVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "unknown"
}

// buildEnv fixes what the kernel records about its build, so two builds
// give the same bytes: the timestamp is the source package's.
func buildEnv(src Source) []string {
	return []string{
		"KBUILD_BUILD_TIMESTAMP=" + src.MTime.Format("Mon Jan 2 15:04:05 UTC 2006"),
		"KBUILD_BUILD_USER=mkimage",
		"KBUILD_BUILD_HOST=mkimage",
		"KBUILD_BUILD_VERSION=1",
		"LC_ALL=C",
	}
}

// checkTools finds the programs the build runs, naming the Debian
// packages that have them when some are missing.
func checkTools(a Arch) error {
	var missing []string
	pkgs := map[string]string{
		"make": "make", "gcc": "gcc", "flex": "flex", "bison": "bison",
		"bc": "bc", "tar": "tar", "xz": "xz-utils", "perl": "perl",
		// not for the kernel: its root is a squashfs (rootfs.squash)
		"mksquashfs": "squashfs-tools",
	}
	cc := a.crossPrefix() + "gcc"
	if cc != "gcc" {
		pkgs[cc] = a.CrossPackage
	}
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, pkgs[n])
		}
	}
	if len(missing) > 0 {
		return errors.New("the small kernel for " + a.GOARCH + " needs " + strings.Join(missing, " ") +
			": apt-get install " + strings.Join(missing, " ") + " libelf-dev")
	}
	return nil
}
