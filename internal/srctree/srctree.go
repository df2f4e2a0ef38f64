// Package srctree finds this tool's own source tree, from which the guest
// programs (initsvc, httpfront, examples) are built for the target and in
// which the kernel modules are pinned by go.mod/go.sum.
package srctree

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Module is this tool's module path.
const Module = "github.com/mkimage/mkimage"

// EnvVar names the variable that overrides the search.
const EnvVar = "MKIMAGE_SRC"

// Find returns the root of the mkimage source tree: $MKIMAGE_SRC, else the
// first directory holding mkimage's go.mod above the working directory, else
// above the running executable.
func Find() (string, error) {
	if d := os.Getenv(EnvVar); d != "" {
		if isRoot(d) {
			return filepath.Abs(d)
		}
		return "", fmt.Errorf("%s=%s does not hold the mkimage source (go.mod of %s)", EnvVar, d, Module)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(real))
		}
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("cannot find the mkimage source tree: run mkimage inside it or set " + EnvVar)
}

func isRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == Module
		}
	}
	return false
}
