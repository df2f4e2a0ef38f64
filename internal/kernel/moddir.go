package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// slowFetch is how long a module download runs before a line says so: a
// cached module answers in milliseconds, a first download of a kernel or
// the Pi firmware takes a while.
const slowFetch = time.Second

// ModuleDir returns the directory and version of a Go module of this tool
// (a kernel or firmware module), downloaded into the module cache by the go
// command run in the tool's source tree src. A download that takes longer
// than a second is announced on progress (nil: silent).
func ModuleDir(ctx context.Context, module, src string, progress io.Writer) (dir, version string, err error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	cmd.Dir = src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done, said := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(said)
		select {
		case <-time.After(slowFetch):
			if progress != nil {
				fmt.Fprintf(progress, "fetching %s into the Go module cache (once; go.sum pins it)\n", module)
			}
		case <-done:
		}
	}()
	out, err := cmd.Output()
	close(done)
	<-said // progress is the caller's again
	var info struct{ Dir, Version, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || err != nil || info.Error != "" {
		return "", "", fmt.Errorf("fetching module %s: %v %s %s", module, err, info.Error, strings.TrimSpace(stderr.String()))
	}
	return info.Dir, info.Version, nil
}
