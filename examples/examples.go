// Package examples holds the example appliance. `mkimage init` writes it out
// as a starter, and the boot tests build the same files, so what users get
// first is what CI boots.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed appliance
var appliance embed.FS

// WriteStarter writes the example appliance into dir and returns the paths
// it wrote. Existing files are kept unless force is set.
func WriteStarter(dir string, force bool) ([]string, error) {
	var written []string
	err := fs.WalkDir(appliance, "appliance", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("appliance", p)
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if _, err := os.Stat(dst); err == nil && !force {
			return fmt.Errorf("%s exists (use -f to overwrite)", dst)
		}
		data, err := appliance.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		written = append(written, dst)
		return nil
	})
	if err != nil {
		return written, fmt.Errorf("writing the example appliance: %w", err)
	}
	return written, nil
}
