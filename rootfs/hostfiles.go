package rootfs

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"

	"github.com/u-root/u-root/pkg/cpio"
	"github.com/u-root/u-root/pkg/ldd"
)

// elfMachines maps GOARCH to the ELF machine a host binary must have.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM}

// sharedLibs returns the dynamic loader and every library a host binary
// needs (with the symlinks leading to them), resolved by u-root's ldd from
// the host's loader. A static binary needs none. The binary must be built
// for the board's architecture.
func sharedLibs(path, goarch string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s is not an ELF executable: %w", path, err)
	}
	machine := f.Machine
	interp := f.Section(".interp") != nil
	f.Close()
	if want, ok := elfMachines[goarch]; ok && machine != want {
		return nil, fmt.Errorf("%s is built for %v, the board needs %v", path, machine, want)
	}
	if !interp {
		return nil, nil
	}
	libs, err := ldd.FList(path)
	if err != nil {
		return nil, fmt.Errorf("listing the shared libraries of %s: %w", path, err)
	}
	return libs, nil
}

// addHostPath copies a host file, symlink or directory tree to the same
// path in the image and returns the bytes it added. Symlinks are kept as
// symlinks; the caller includes their targets.
func (im *image) addHostPath(p string) (int64, error) {
	st, err := os.Lstat(p)
	if err != nil {
		return 0, fmt.Errorf("adding %s to the image: %w", p, err)
	}
	switch {
	case st.Mode()&os.ModeSymlink != 0:
		dest, err := os.Readlink(p)
		if err != nil {
			return 0, fmt.Errorf("adding %s to the image: %w", p, err)
		}
		im.add(cpio.Symlink(p, dest))
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(p), dest)
		}
		if _, ok := im.recs[cleanName(dest)]; ok {
			return 0, nil
		}
		return im.addHostPath(dest)
	case st.IsDir():
		return im.addTree(p, p)
	default:
		mode := uint64(0o644)
		if st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return im.addFile(p, p, mode)
	}
}
