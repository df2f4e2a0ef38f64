package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// ModuleDir returns the directory and version of a Go module of this tool
// (a kernel or firmware module), downloaded into the module cache by the go
// command run in the tool's source tree src.
func ModuleDir(ctx context.Context, module, src string) (dir, version string, err error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	cmd.Dir = src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Version, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || err != nil || info.Error != "" {
		return "", "", fmt.Errorf("fetching module %s: %v %s %s", module, err, info.Error, strings.TrimSpace(stderr.String()))
	}
	return info.Dir, info.Version, nil
}
