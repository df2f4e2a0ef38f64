package guestsrc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// serve writes Module@t.Version into the proxy directory in the layout of
// GOPROXY's file:// protocol: @v/VERSION.info, .mod, .zip and @v/list.
func serve(src fs.FS, t Tree) error {
	esc, err := module.EscapePath(Module)
	if err != nil {
		return err
	}
	dir := filepath.Join(t.ProxyDir, filepath.FromSlash(esc), "@v")
	base := filepath.Join(dir, t.Version)
	now := time.Now()
	if _, err := os.Stat(base + ".zip"); err == nil {
		return os.Chtimes(base+".zip", now, now)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mod, err := fs.ReadFile(src, "go.mod")
	if err != nil {
		return err
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{t.Version, time.Unix(0, 0).UTC()})
	var zip bytes.Buffer
	if err := modzip.Create(&zip, module.Version{Path: Module, Version: t.Version}, zipFiles(src)); err != nil {
		return fmt.Errorf("making the module zip: %w", err)
	}
	// The zip last: its presence says the version is complete.
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".info", info}, {".mod", mod}, {".zip", zip.Bytes()}} {
		if err := writeAtomic(base+f.ext, f.data); err != nil {
			return err
		}
	}
	pruneVersions(dir, t.Version)
	return writeList(dir)
}

// writeList lists the versions the directory serves.
func writeList(dir string) error {
	zips, err := filepath.Glob(filepath.Join(dir, "*.zip"))
	if err != nil {
		return err
	}
	var vs []string
	for _, z := range zips {
		vs = append(vs, strings.TrimSuffix(filepath.Base(z), ".zip"))
	}
	sort.Strings(vs)
	return writeAtomic(filepath.Join(dir, "list"), []byte(strings.Join(vs, "\n")+"\n"))
}

// pruneVersions removes served versions unused for longer than keep. A
// user's module that requires one still builds from the go command's
// module cache, which fetched it when the module first required it.
func pruneVersions(dir, cur string) {
	zips, _ := filepath.Glob(filepath.Join(dir, "*.zip"))
	for _, z := range zips {
		v := strings.TrimSuffix(filepath.Base(z), ".zip")
		if info, err := os.Stat(z); err != nil || v == cur || time.Since(info.ModTime()) < keep {
			continue
		}
		for _, ext := range []string{".zip", ".mod", ".info"} {
			_ = os.Remove(filepath.Join(dir, v+ext))
		}
	}
}

func writeAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// zipFile is one embedded file as golang.org/x/mod/zip reads it.
type zipFile struct {
	fsys fs.FS
	name string
}

func (f zipFile) Path() string                 { return f.name }
func (f zipFile) Lstat() (os.FileInfo, error)  { return fs.Stat(f.fsys, f.name) }
func (f zipFile) Open() (io.ReadCloser, error) { return f.fsys.Open(f.name) }

func zipFiles(src fs.FS) []modzip.File {
	var out []modzip.File
	_ = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, zipFile{src, p})
		}
		return nil
	})
	return out
}

// GoEnv is the environment the go command needs to build against this
// tree's module: the local proxy first, then the user's own GOPROXY, and
// no checksum-database lookup for a module no public database has seen
// (its go.sum lines are made from the served zip).
func (t Tree) GoEnv(ctx context.Context) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "-json", "GOPROXY", "GONOSUMDB")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("running go env (the go command builds the guest programs; install Go ≥ 1.26 from go.dev/dl): %w %s", err, strings.TrimSpace(stderr.String()))
	}
	var env struct{ GOPROXY, GONOSUMDB string }
	if err := json.Unmarshal(out, &env); err != nil {
		return nil, fmt.Errorf("reading go env's output: %w", err)
	}
	proxy := "file://" + filepath.ToSlash(t.ProxyDir)
	if env.GOPROXY != "" {
		proxy += "," + env.GOPROXY
	}
	nosum := Module
	if env.GONOSUMDB != "" {
		nosum = env.GONOSUMDB + "," + Module
	}
	return []string{"GOPROXY=" + proxy, "GONOSUMDB=" + nosum}, nil
}

// ModPath is the file in the proxy that holds version v's go.mod, for
// tests and for `mkimage version`.
func (t Tree) ModPath(v string) string {
	return filepath.Join(t.ProxyDir, filepath.FromSlash(path.Join(Module, "@v", v+".mod")))
}
