// Package kernel resolves the kernel an image boots: the board's Go module
// (fetched by the go command, pinned by go.sum) or a local file.
package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mkimage/mkimage/board"

	// The default kernels are modules of this tool, so go.mod pins them.
	_ "github.com/gokrazy/kernel.amd64"
)

// Kernel is a resolved kernel.
type Kernel struct {
	Path    string // the kernel image
	Modules string // lib/modules/VERSION directory, or ""
	Version string // module version or "local"
	Source  string // module path or file path
}

// Local describes a kernel given in the config.
type Local struct {
	Path, Modules string
}

// Resolve returns the kernel for b: local when loc.Path is set, else the
// board's module, downloaded into the module cache by the go command run in
// the tool's source tree src.
func Resolve(ctx context.Context, b board.Board, loc Local, src string) (Kernel, error) {
	if loc.Path != "" {
		return Kernel{Path: loc.Path, Modules: loc.Modules, Version: "local", Source: loc.Path}, nil
	}
	ks := b.Kernel
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", ks.Module)
	cmd.Dir = src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Version, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || err != nil || info.Error != "" {
		return Kernel{}, fmt.Errorf("fetching kernel module %s for board %s: %v %s %s", ks.Module, b.Name, err, info.Error, strings.TrimSpace(stderr.String()))
	}
	k := Kernel{Path: filepath.Join(info.Dir, ks.File), Version: info.Version, Source: ks.Module}
	if ks.Modules != "" {
		k.Modules = filepath.Join(info.Dir, ks.Modules)
	}
	if _, err := os.Stat(k.Path); err != nil {
		return Kernel{}, fmt.Errorf("kernel module %s@%s has no %s: %w", ks.Module, info.Version, ks.File, err)
	}
	return k, nil
}
