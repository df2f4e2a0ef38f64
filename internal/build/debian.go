package build

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/debian"
	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// debianPlan is what the config asks of Debian: the packages, the lock
// file beside appliance.toml, and the apps whose program a package
// installs (config key -> path in the image).
type debianPlan struct {
	names    []string
	lockPath string
	lock     *debian.Lock
	programs map[string]string
}

// fromDebian reports whether an app's program is a file its Debian
// packages install rather than a host file or a Go package.
func fromDebian(a config.App) bool {
	return len(a.Debian) > 0 && path.IsAbs(a.Program)
}

// deriveDebian reads the lock file; it fetches nothing.
func deriveDebian(cfg *config.Config) (debianPlan, error) {
	d := debianPlan{names: cfg.DebianPackages(), programs: map[string]string{}}
	if len(d.names) == 0 {
		return d, nil
	}
	d.lockPath = filepath.Join(cfg.Dir, debian.LockName)
	var err error
	if d.lock, err = debian.ReadLock(d.lockPath); err != nil {
		return d, err
	}
	for i, a := range cfg.Apps {
		switch {
		case a.Python != "":
			d.programs[fmt.Sprintf("app.%d.python", i)] = spec.PythonPath
		case fromDebian(a):
			d.programs[fmt.Sprintf("app.%d.program", i)] = path.Clean(a.Program)
		}
	}
	return d, nil
}

// describe lists the packages asked for and the versions locked.
func (d debianPlan) describe(w io.Writer, b board.Board) {
	if len(d.names) == 0 {
		return
	}
	locked := d.lock.For(b.GOARCH)
	for _, key := range slices.Sorted(maps.Keys(d.programs)) {
		fmt.Fprintf(w, "program   %-22s from the app's Debian packages (%s)\n", d.programs[key], key)
	}
	for _, n := range d.names {
		v := "newest, with its dependencies"
		if e, ok := locked[n]; ok {
			v = e.Version + " (" + debian.LockName + "), with its dependencies"
		}
		fmt.Fprintf(w, "debian    %-22s %s\n", n, v)
	}
	if len(locked) > 0 {
		fmt.Fprintf(w, "debian    %d packages for %s locked in %s\n", len(locked), b.GOARCH, d.lockPath)
	}
}

// fetch fetches the packages for the board, writes the lock file, checks
// the apps' programs are among the files, and returns the packages and
// their trees for the image.
func (d debianPlan) fetch(ctx context.Context, cfg *config.Config, b board.Board, progress io.Writer) ([]debian.Package, []rootfs.Tree, error) {
	if len(d.names) == 0 {
		return nil, nil, nil
	}
	f := &debian.Fetcher{Arch: b.GOARCH, Progress: progress}
	pkgs, err := f.Fetch(ctx, d.names, d.lock)
	if err != nil {
		return nil, nil, err
	}
	d.lock.Set(b.GOARCH, pkgs)
	if err := d.lock.Write(d.lockPath); err != nil {
		return nil, nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(d.programs)) {
		if !inPackages(pkgs, d.programs[key]) {
			return nil, nil, cfg.Errorf(key, "%s is not a file the Debian packages %s or their dependencies install", d.programs[key], strings.Join(d.names, " "))
		}
	}
	var trees []rootfs.Tree
	for _, p := range pkgs {
		entries, err := os.ReadDir(p.Dir)
		if err != nil {
			return nil, nil, fmt.Errorf("reading unpacked Debian package %s: %w", p.Name, err)
		}
		for _, e := range entries {
			trees = append(trees, rootfs.Tree{Source: filepath.Join(p.Dir, e.Name()), Target: "/" + e.Name()})
		}
	}
	return pkgs, trees, nil
}

// inPackages reports whether file, following symlinks from one package
// into another, is a regular file in the unpacked packages.
func inPackages(pkgs []debian.Package, file string) bool {
	for hops := 0; hops < 16; hops++ {
		var next string
		for _, p := range pkgs {
			full := filepath.Join(p.Dir, file)
			st, err := os.Lstat(full)
			if err != nil {
				continue
			}
			if st.Mode().IsRegular() {
				return true
			}
			if dest, err := os.Readlink(full); err == nil {
				if !path.IsAbs(dest) {
					dest = path.Join(path.Dir(file), dest)
				}
				next = path.Clean(dest)
				break
			}
		}
		if next == "" {
			return false
		}
		file = next
	}
	return false
}

// debianManifest describes the packages for manifest.json.
func debianManifest(pkgs []debian.Package) []manifest.DebianPackage {
	var out []manifest.DebianPackage
	for _, p := range pkgs {
		out = append(out, manifest.DebianPackage{
			Name: p.Name, Version: p.Version, Arch: p.Arch, SHA256: p.SHA256,
			DebBytes: p.DebBytes, Bytes: p.Bytes,
		})
	}
	return out
}
