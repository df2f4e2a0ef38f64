// Package starter writes the starting points of `mkimage init` into a
// directory: the files of examples.Starter, plus what only this machine
// can say (the Go app's go.mod and go.sum naming the module this binary
// serves, the path of the host's php-cgi).
package starter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/mkimage/mkimage"
	"github.com/mkimage/mkimage/examples"
	"github.com/mkimage/mkimage/fcgiserver/python"
	"github.com/mkimage/mkimage/internal/guestsrc"
)

// Options say what to write where.
type Options struct {
	Dir   string
	Kind  string // examples.Kinds
	Force bool   // overwrite existing files
	// Module is the Go app's module path (kind "go").
	Module string
	// Tree is the unpacked guest source with GoEnv, its module proxy
	// (kind "go").
	Tree  guestsrc.Tree
	GoEnv []string
}

const phpMarker = "@PHP_CGI@"

// Write writes the starter and returns the paths it wrote. It refuses to
// overwrite anything unless Force is set, and checks that before writing.
func Write(ctx context.Context, o Options) ([]string, error) {
	src, err := examples.Starter(o.Kind)
	if err != nil {
		return nil, err
	}
	files, err := collect(src, o)
	if err != nil {
		return nil, err
	}
	if !o.Force {
		for name := range files {
			if _, err := os.Stat(filepath.Join(o.Dir, name)); err == nil {
				return nil, fmt.Errorf("%s exists (use -f to overwrite)", filepath.Join(o.Dir, name))
			}
		}
	}
	var written []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		dst := filepath.Join(o.Dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return written, fmt.Errorf("writing the %s starter: %w", o.Kind, err)
		}
		if err := os.WriteFile(dst, files[name], 0o644); err != nil {
			return written, fmt.Errorf("writing the %s starter: %w", o.Kind, err)
		}
		written = append(written, dst)
	}
	if o.Kind == "go" {
		if err := tidy(ctx, filepath.Join(o.Dir, "app"), o.GoEnv); err != nil {
			return written, err
		}
	}
	return written, nil
}

// collect reads the starter's files (slash paths) and fills in what this
// machine says.
func collect(src fs.FS, o Options) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[p], err = fs.ReadFile(src, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the %s starter: %w", o.Kind, err)
	}
	switch o.Kind {
	case "go":
		mod, sum, err := goModule(o)
		if err != nil {
			return nil, err
		}
		files["app/go.mod"], files["app/go.sum"] = mod, sum
	case "php":
		php, err := exec.LookPath("php-cgi")
		if err != nil {
			return nil, errors.New("the php starter packs this machine's php-cgi into the image, and there is none (Debian: apt install php-cgi)")
		}
		if php, err = filepath.Abs(php); err != nil {
			return nil, err
		}
		files["appliance.toml"] = bytes.ReplaceAll(files["appliance.toml"], []byte(phpMarker), []byte(php))
	case "python":
		// The server the image runs, to run the same app on a host
		// (python3 mkimage_wsgi.py app:application under lighttpd).
		files["mkimage_wsgi.py"] = python.Server
	}
	return files, nil
}

// goModule makes the app's go.mod, requiring this binary's module at the
// version its proxy serves, with the same go line, and a go.sum holding the
// tool's own sums (go mod tidy keeps what the app needs of them).
func goModule(o Options) (mod, sum []byte, err error) {
	own, err := modfile.ParseLax("go.mod", mustRead("go.mod"), nil)
	if err != nil || own.Go == nil {
		return nil, nil, fmt.Errorf("reading the embedded go.mod: %v", err)
	}
	f := new(modfile.File)
	if err := f.AddModuleStmt(o.Module); err != nil {
		return nil, nil, fmt.Errorf("module path %q: %w", o.Module, err)
	}
	if err := f.AddGoStmt(own.Go.Version); err != nil {
		return nil, nil, err
	}
	if err := f.AddRequire(guestsrc.Module, o.Tree.Version); err != nil {
		return nil, nil, err
	}
	mod, err = f.Format()
	return mod, mustRead("go.sum"), err
}

func mustRead(name string) []byte {
	b, _ := fs.ReadFile(mkimage.GuestSource, name) // embedded: always there
	return b
}

// tidy runs go mod tidy in the app's module, which fetches this binary's
// module from its local proxy and writes the sums the app needs.
func tidy(ctx context.Context, dir string, env []string) error {
	cmd := exec.CommandContext(ctx, "go", "mod", "tidy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go mod tidy in %s: %w\n%s", dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}
