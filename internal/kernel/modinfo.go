package kernel

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// scanModinfo builds the dependency map modules.dep would hold from the
// "depends=" entries of every uncompressed module's .modinfo section.
func scanModinfo(dir string) (map[string][]string, error) {
	direct := map[string][]string{} // path -> dependency names
	byName := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		names, err := modDepends(p)
		if err != nil {
			return err
		}
		direct[rel] = names
		byName[moduleName(rel)] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading module dependencies in %s (no modules.dep): %w", dir, err)
	}
	// modules.dep lists the transitive closure; so does this.
	deps := map[string][]string{}
	for rel := range direct {
		var out []string
		seen := map[string]bool{}
		var walk func(string)
		walk = func(r string) {
			for _, n := range direct[r] {
				dp, ok := byName[strings.ReplaceAll(n, "-", "_")]
				if !ok || seen[dp] {
					continue
				}
				seen[dp] = true
				out = append(out, dp)
				walk(dp)
			}
		}
		walk(rel)
		deps[rel] = out
	}
	return deps, nil
}

// modDepends returns the module names in a .ko's "depends=" modinfo entry.
func modDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .modinfo of %s: %w", path, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}
