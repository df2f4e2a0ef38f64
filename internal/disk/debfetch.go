package disk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// debArch maps a UEFI architecture name to Debian's.
var debArch = map[string]string{"x64": "amd64", "aa64": "arm64"}

// FetchDeb returns the root of Debian package pkg for Debian architecture
// arch unpacked in the user's cache: downloaded with apt-get (not
// installed, so a package of another architecture needs no dpkg
// architecture added) and unpacked with dpkg-deb, once. say (nil: silent)
// gets a line when it downloads.
func FetchDeb(ctx context.Context, pkg, arch string, say io.Writer) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	root := filepath.Join(dir, "mkimage", "deb", pkg+"_"+arch)
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("Debian's %s:%s is needed and there is no apt-get to fetch it", pkg, arch)
	}
	if say != nil {
		fmt.Fprintf(say, "fetching Debian's %s:%s into %s (once)\n", pkg, arch, root)
	}
	if err := fetchDeb(ctx, pkg, arch, root); err != nil {
		return "", fmt.Errorf("fetching Debian's %s:%s: %w", pkg, arch, err)
	}
	return root, nil
}

// fetchDeb downloads pkg with apt-get, using package lists of its own,
// and unpacks it into dir.
func fetchDeb(ctx context.Context, pkg, arch, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return err
		}
	}
	opts := []string{"-qq", "-oAPT::Architecture=" + arch, "-oAPT::Architectures=" + arch,
		"-oDir::State::Lists=" + filepath.Join(work, "lists"), "-oDir::Cache=" + filepath.Join(work, "cache"),
		"-oDebug::NoLocking=1"}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", append(opts, args...)...)
		cmd.Dir = work
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
		}
		return nil
	}
	if err := run("update"); err != nil {
		return err
	}
	if err := run("download", pkg+":"+arch); err != nil {
		return err
	}
	debs, _ := filepath.Glob(filepath.Join(work, pkg+"_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download left %d packages", len(debs))
	}
	root := filepath.Join(work, "root")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x: %w: %s", err, out)
	}
	// Another build may have fetched it meanwhile: either copy will do.
	if err := os.Rename(root, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return nil
		}
		return err
	}
	return nil
}
