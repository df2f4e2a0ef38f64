package rootfs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mkimage/mkimage/internal/files"
)

// Program is one executable placed in the image.
type Program struct {
	// Name is the file name under /bin (or "init" for /init).
	Name string
	// Exactly one of Package and File is set. Package is a Go package
	// (import path, or ./relative to Dir) built for the target.
	Package string
	// Dir is the directory go build runs in (selects the module).
	Dir string
	// File is a prebuilt executable copied as it is.
	File string
	// Target is the path inside the image.
	Target string
	// Aliases are more paths in the image for the same program, symlinks
	// to Target: a multi-call binary tells them apart by argv[0].
	Aliases []string
	// Tags are Go build tags for Package (what the image leaves out).
	Tags []string
}

// buildGo cross-compiles p into dir and returns the output path. The go
// command's build cache spares compiling what did not change, but it links
// every time (about a second for the multi-call /init); cache, when set,
// keeps the linked binary by goKey, so a rebuild with nothing changed
// only lists the packages.
func buildGo(ctx context.Context, p Program, goarch, dir string, env []string, cache *Cache) (string, error) {
	out := filepath.Join(dir, p.Name)
	flags := []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}
	if len(p.Tags) > 0 {
		flags = append(flags, "-tags="+strings.Join(p.Tags, ","))
	}
	goEnv := append(append(os.Environ(), env...), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	key := ""
	if cache != nil {
		// On an error the build below says what is wrong.
		if k, err := goKey(ctx, append(flags, p.Package), goEnv, p.Dir); err == nil {
			key = "go1-" + k
			if cached, ok := cache.Get(key); ok && files.Copy(cached, out) == nil {
				return out, nil
			}
		}
	}
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"build"}, flags...), "-o", out, p.Package)...)
	cmd.Dir, cmd.Env = p.Dir, goEnv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s (%s) for linux/%s: %w\n%s", p.Name, p.Package, goarch, err, strings.TrimSpace(stderr.String()))
	}
	if key != "" {
		data, err := os.ReadFile(out)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", out, err)
		}
		if err := cache.Put(key, data); err != nil {
			return "", err
		}
	}
	return out, nil
}
