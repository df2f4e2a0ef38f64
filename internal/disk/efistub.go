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

// stubDir is where Debian's systemd-boot-efi installs the EFI stubs.
const stubDir = "/usr/lib/systemd/boot/efi"

// debArch maps a UEFI architecture name to Debian's.
var debArch = map[string]string{"x64": "amd64", "aa64": "arm64"}

// FindEFIStub returns systemd's EFI stub (linux<ARCH>.efi.stub) for the
// UEFI architecture arch: from $MKIMAGE_EFI_STUBS, the installed
// systemd-boot-efi package, or the cache. When it is in none of them and
// apt-get is there, Debian's package for that architecture is downloaded
// (not installed) and unpacked into the cache, saying so on say.
func FindEFIStub(ctx context.Context, arch string, say io.Writer) (string, error) {
	name := "linux" + arch + ".efi.stub"
	cache := stubCache(arch)
	var dirs []string
	if d := os.Getenv("MKIMAGE_EFI_STUBS"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, stubDir, filepath.Join(cache, "usr/lib/systemd/boot/efi"))
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	deb, ok := debArch[arch]
	if !ok {
		return "", fmt.Errorf("no EFI stub for UEFI architecture %q", arch)
	}
	hint := fmt.Sprintf("systemd's EFI stub %s is missing (Debian: apt-get install systemd-boot-efi, or for another architecture `apt-get download systemd-boot-efi:%s` unpacked with dpkg-deb -x into %s, or set MKIMAGE_EFI_STUBS)", name, deb, cache)
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("%s", hint)
	}
	if say != nil {
		fmt.Fprintf(say, "efistub  fetching Debian's systemd-boot-efi (%s) into %s\n", deb, cache)
	}
	if err := fetchStub(ctx, deb, cache); err != nil {
		return "", fmt.Errorf("%s: fetching it failed: %w", hint, err)
	}
	p := filepath.Join(cache, "usr/lib/systemd/boot/efi", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: the package has no %s", hint, name)
	}
	return p, nil
}

func stubCache(arch string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "mkimage", "systemd-boot-efi-"+arch)
}

// fetchStub downloads systemd-boot-efi for the Debian architecture deb with
// apt-get, using package lists of its own (no dpkg architecture is added
// to the system), and unpacks it into dir.
func fetchStub(ctx context.Context, deb, dir string) error {
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
	opts := []string{"-qq", "-oAPT::Architecture=" + deb, "-oAPT::Architectures=" + deb,
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
	if err := run("download", "systemd-boot-efi:"+deb); err != nil {
		return err
	}
	debs, _ := filepath.Glob(filepath.Join(work, "systemd-boot-efi_*.deb"))
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
