package debian

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// dropped are trees, relative to the root, that an appliance never
// reads: documentation, manual and info pages, lintian overrides,
// reportbug hooks, menus, shell completions, and service, cron and
// logrotate files for an init that is not the image's. Translations go
// too (keepLocales).
var dropped = []string{
	"usr/share/doc", "usr/share/doc-base", "usr/share/man", "usr/share/info",
	"usr/share/lintian", "usr/share/linda", "usr/share/bug", "usr/share/reportbug",
	"usr/share/menu", "usr/share/gtk-doc", "usr/share/help",
	"usr/share/bash-completion", "usr/share/zsh", "usr/share/fish",
	"etc/init.d", "etc/cron.d", "etc/cron.daily", "etc/cron.weekly", "etc/cron.monthly",
	"etc/cron.hourly", "etc/logrotate.d", "lib/systemd/system", "usr/lib/systemd/system",
	"usr/lib/systemd/user", "usr/lib/tmpfiles.d", "usr/lib/sysusers.d",
}

// keepLocales are the entries of usr/share/locale that stay.
var keepLocales = map[string]bool{"C": true, "C.UTF-8": true, "C.utf8": true, "locale.alias": true}

// unpacked is where the package with the .deb of hash sum is unpacked:
// root/ is the tree after the drop, control/ its control files, bytes the
// size of root/.
func unpacked(cache string, p Package) string {
	return filepath.Join(cache, "unpacked", p.Name+"_"+p.Version+"_"+p.Arch+"_"+p.SHA256[:16])
}

// unpack unpacks deb into dir (once: a later call reads what the first
// left) and returns the bytes of the tree after the drop.
func unpack(ctx context.Context, deb, dir string) (int64, error) {
	if data, err := os.ReadFile(filepath.Join(dir, "bytes")); err == nil {
		return strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return 0, fmt.Errorf("unpacking %s: %w", filepath.Base(deb), err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return 0, fmt.Errorf("unpacking %s: %w", filepath.Base(deb), err)
	}
	defer os.RemoveAll(tmp)
	for _, args := range [][]string{{"-x", deb, filepath.Join(tmp, "root")}, {"-e", deb, filepath.Join(tmp, "control")}} {
		if out, err := exec.CommandContext(ctx, "dpkg-deb", args...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("dpkg-deb %s %s: %w: %s", args[0], filepath.Base(deb), err, strings.TrimSpace(string(out)))
		}
	}
	root := filepath.Join(tmp, "root")
	if err := drop(root); err != nil {
		return 0, fmt.Errorf("dropping documentation from %s: %w", filepath.Base(deb), err)
	}
	links, _ := checkScripts("", filepath.Join(tmp, "control")) // refused later
	if err := makeLinks(root, links); err != nil {
		return 0, fmt.Errorf("making the alternatives of %s: %w", filepath.Base(deb), err)
	}
	n, err := treeBytes(root)
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", filepath.Base(deb), err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "bytes"), []byte(fmt.Sprintln(n)), 0o644); err != nil {
		return 0, fmt.Errorf("unpacking %s: %w", filepath.Base(deb), err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "bytes")); serr == nil {
			return n, nil // another build unpacked it meanwhile
		}
		return 0, fmt.Errorf("unpacking %s: %w", filepath.Base(deb), err)
	}
	return n, nil
}

// drop removes what an appliance never reads from an unpacked root.
func drop(root string) error {
	for _, d := range dropped {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			return err
		}
	}
	locale := filepath.Join(root, "usr/share/locale")
	entries, err := os.ReadDir(locale)
	if err != nil {
		return nil // none
	}
	for _, e := range entries {
		if !keepLocales[e.Name()] {
			if err := os.RemoveAll(filepath.Join(locale, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// isDropped reports whether the path (absolute, in the image) is in a
// dropped tree.
func isDropped(p string) bool {
	rel := strings.TrimPrefix(filepath.Clean(p), "/")
	for _, d := range dropped {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	if l, ok := strings.CutPrefix(rel, "usr/share/locale/"); ok {
		first, _, _ := strings.Cut(l, "/")
		return !keepLocales[first]
	}
	return false
}

// treeBytes adds up the sizes of the regular files under root.
func treeBytes(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

// hashFile returns a file's SHA-256 and size.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
