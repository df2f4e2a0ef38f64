package debian

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Fetch resolves names (Debian package names) and their dependencies,
// downloads and unpacks them, and returns them sorted by name. Packages
// lock holds for the architecture get exactly their locked version and
// .deb, or Fetch fails naming the package; the others get the newest.
func (f *Fetcher) Fetch(ctx context.Context, names []string, lock *Lock) ([]Package, error) {
	for _, tool := range []string{"apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("Debian packages %s are needed and there is no %s to fetch them (install apt)", strings.Join(names, " "), tool)
		}
	}
	if _, err := os.Stat(Keyring); err != nil && f.Sources == nil {
		return nil, fmt.Errorf("Debian packages need Debian's archive keyring %s to check them (install debian-archive-keyring): %w", Keyring, err)
	}
	cache, err := f.cacheDir()
	if err != nil {
		return nil, err
	}
	unlock, err := lockDir(cache)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sources := f.Sources
	if sources == nil {
		sources = HostSources()
	}
	a, err := newApt(cache, f.Arch, sources)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	pkgs, err := f.resolve(ctx, a, names, lock.For(f.Arch))
	if err != nil {
		return nil, err
	}
	if err := f.download(ctx, a, pkgs, lock.For(f.Arch)); err != nil {
		return nil, err
	}
	if err := f.unpackAll(ctx, cache, a, pkgs); err != nil {
		return nil, err
	}
	var total int64
	for _, p := range pkgs {
		total += p.Bytes
	}
	f.say("debian   %d packages for %s, %s installed (%v)", len(pkgs), f.Arch, mib(total), time.Since(t).Round(time.Millisecond))
	return pkgs, nil
}

// resolve asks apt for the closure of names, holding locked packages at
// their versions, and checks that it took them. Lists older than
// listsMaxAge are updated first; older ones that fail are updated and
// tried again.
func (f *Fetcher) resolve(ctx context.Context, a *apt, names []string, locked map[string]LockEntry) ([]Package, error) {
	versions := map[string]string{}
	for name, e := range locked {
		versions[name] = e.Version
	}
	if err := a.pin(versions); err != nil {
		return nil, err
	}
	wants := make([]string, len(names))
	for i, n := range names {
		wants[i] = n
		if v, ok := versions[n]; ok {
			wants[i] += "=" + v
		}
	}
	updated := false
	for {
		if !updated && !a.fresh() {
			f.say("debian   updating the package lists for %s", f.Arch)
			if err := a.update(ctx); err != nil {
				return nil, err
			}
			updated = true
		}
		pkgs, err := a.resolve(ctx, wants)
		if err != nil {
			err = fmt.Errorf("resolving Debian packages %s for %s%s: %w", strings.Join(wants, " "), f.Arch, lockNote(locked), err)
		} else {
			err = checkLocked(pkgs, locked)
		}
		if err == nil || updated {
			slices.SortFunc(pkgs, func(x, y Package) int { return strings.Compare(x.Name, y.Name) })
			return pkgs, err
		}
		os.Remove(a.path("updated")) // stale lists may be why: update and retry
	}
}

// lockNote says where locked versions come from, when there are any.
func lockNote(locked map[string]LockEntry) string {
	if len(locked) == 0 {
		return ""
	}
	return " (versions from " + LockName + ")"
}

// checkLocked fails when apt took another version than the lock's: the
// mirrors no longer serve the locked one.
func checkLocked(pkgs []Package, locked map[string]LockEntry) error {
	var errs []error
	for _, p := range pkgs {
		if e, ok := locked[p.Name]; ok && e.Version != p.Version {
			errs = append(errs, fmt.Errorf("Debian package %s: %s locks version %s, which the mirrors no longer serve (they have %s): delete its line to take that", p.Name, LockName, e.Version, p.Version))
		}
	}
	return errors.Join(errs...)
}

// download fetches what the archives lack and fills in each package's
// hash, checking it against the lock's.
func (f *Fetcher) download(ctx context.Context, a *apt, pkgs []Package, locked map[string]LockEntry) error {
	have := 0
	for _, p := range pkgs {
		if _, err := os.Stat(a.deb(p)); err == nil {
			have++
		}
	}
	n, size, err := 0, int64(0), error(nil)
	if have < len(pkgs) {
		if n, size, err = a.pending(ctx, pkgs); err != nil {
			return err
		}
	}
	if n > 0 {
		f.say("debian   fetching %d of %d packages for %s (%s)", n, len(pkgs), f.Arch, mib(size))
		if err := a.download(ctx, pkgs); err != nil {
			return err
		}
	}
	for i := range pkgs {
		p := &pkgs[i]
		if p.SHA256, p.DebBytes, err = hashFile(a.deb(*p)); err != nil {
			return fmt.Errorf("Debian package %s %s: apt-get did not leave its .deb: %w", p.Name, p.Version, err)
		}
		if e, ok := locked[p.Name]; ok && e.SHA256 != p.SHA256 {
			return fmt.Errorf("Debian package %s %s: its .deb has SHA-256 %s, %s says %s", p.Name, p.Version, p.SHA256, LockName, e.SHA256)
		}
	}
	return nil
}

// unpackAll unpacks each package and applies the maintainer script
// policy, reporting every package it refuses.
func (f *Fetcher) unpackAll(ctx context.Context, cache string, a *apt, pkgs []Package) error {
	var errs []error
	for i := range pkgs {
		p := &pkgs[i]
		dir := unpacked(cache, *p)
		n, err := unpack(ctx, a.deb(*p), dir)
		if err != nil {
			return fmt.Errorf("Debian package %s: %w", p.Name, err)
		}
		p.Bytes, p.Dir = n, filepath.Join(dir, "root")
		p.Links, err = checkScripts(p.Name, filepath.Join(dir, "control"))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// lockDir takes an exclusive lock on the cache, for builds running at
// the same time, and returns its release.
func lockDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("making the Debian package cache: %w", err)
	}
	fd, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the Debian package cache: %w", err)
	}
	if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX); err != nil {
		fd.Close()
		return nil, fmt.Errorf("locking the Debian package cache %s: %w", dir, err)
	}
	return func() { fd.Close() }, nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
