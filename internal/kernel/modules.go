package kernel

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ModuleSet is the part of a kernel's module tree an image needs: the
// modules to load with everything they depend on, in load order, and a
// modules.dep covering just them, which u-root's kmodule reads in the guest.
type ModuleSet struct {
	Dir     string   // the host's lib/modules/VERSION
	Version string   // VERSION, the guest's `uname -r`
	Files   []string // .ko paths relative to Dir, dependencies first
	Dep     []byte   // modules.dep for Files
}

// SelectModules resolves names (as in modprobe: '-' and '_' are the same)
// against dir/modules.dep and returns the files to put into the image.
func SelectModules(dir string, names []string) (ModuleSet, error) {
	set := ModuleSet{Dir: dir, Version: filepath.Base(dir)}
	deps, err := readModulesDep(filepath.Join(dir, "modules.dep"))
	if errors.Is(err, fs.ErrNotExist) {
		// A kernel package unpacked without running depmod (Debian's
		// .deb): read the dependencies from each module's .modinfo.
		deps, err = scanModinfo(dir)
	}
	if err != nil {
		return set, err
	}
	byName := map[string]string{}
	for path := range deps {
		byName[moduleName(path)] = path
	}
	builtin := readBuiltin(filepath.Join(dir, "modules.builtin"))
	seen := map[string]bool{}
	var visit func(path string)
	visit = func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		for _, d := range deps[path] {
			visit(d)
		}
		set.Files = append(set.Files, path)
	}
	for _, n := range names {
		key := strings.ReplaceAll(n, "-", "_")
		path, ok := byName[key]
		if !ok {
			if builtin[key] {
				continue // built into the kernel: nothing to load
			}
			return set, fmt.Errorf("kernel module %s is not in %s/modules.dep", n, dir)
		}
		visit(path)
	}
	var dep strings.Builder
	for _, f := range set.Files {
		dep.WriteString(f + ":")
		for _, d := range deps[f] {
			dep.WriteString(" " + d)
		}
		dep.WriteString("\n")
	}
	set.Dep = []byte(dep.String())
	return set, nil
}

// readModulesDep parses "path: dep dep ..." lines.
func readModulesDep(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[strings.TrimSpace(mod)] = strings.Fields(rest)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return deps, nil
}

func readBuiltin(path string) map[string]bool {
	out := map[string]bool{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, l := range strings.Fields(string(data)) {
		out[moduleName(l)] = true
	}
	return out
}

// moduleName turns kernel/drivers/net/virtio_net.ko(.xz) into virtio_net.
func moduleName(path string) string {
	base := filepath.Base(path)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}
