package rootfs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
// command's build cache makes a rebuild with nothing changed take well under
// a second per program.
func buildGo(ctx context.Context, p Program, goarch, dir string, env []string) (string, error) {
	out := filepath.Join(dir, p.Name)
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}
	if len(p.Tags) > 0 {
		args = append(args, "-tags="+strings.Join(p.Tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "-o", out, p.Package)...)
	cmd.Dir = p.Dir
	cmd.Env = append(append(os.Environ(), env...), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s (%s) for linux/%s: %w\n%s", p.Name, p.Package, goarch, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
