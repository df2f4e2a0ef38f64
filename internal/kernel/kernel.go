// Package kernel resolves the kernel an image boots: the board's Go module
// (fetched by the go command, pinned by go.sum), a local file, or the
// small kernel built from Debian's kernel source (package small).
package kernel

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mkimage/mkimage/board"

	// The default kernels are modules of this tool, so go.mod pins them.
	_ "github.com/gokrazy/kernel.amd64"
)

// Kernel is a resolved kernel.
type Kernel struct {
	Path    string // the kernel image
	Modules string // lib/modules/VERSION directory, or ""
	Version string // module version or "local"
	Source  string // module path or file path
	// Cmdline is what this kernel needs on its command line ("" mostly).
	Cmdline string
	// SquashfsRoot: the image's root goes to this kernel as a squashfs
	// initrd, which it copies to a RAM disk and mounts read-only
	// (RootCmdline), not as an initramfs cpio it unpacks into RAM; or,
	// from a disk, as the same image in a partition, which it maps with
	// device mapper (MappedRootCmdline).
	SquashfsRoot bool
}

// RootCmdline is what a kernel with SquashfsRoot needs on its command line
// to boot a squashfs initrd of size bytes: /dev/ram0 as the root, with
// room for the image (brd's rd_size, in KiB; its pages are allocated as
// the image is copied in), and /init run from it.
func RootCmdline(size int64) string {
	kib := (size + 1<<20 - 1) >> 20 << 10
	return fmt.Sprintf("root=/dev/ram0 rootfstype=squashfs brd.rd_size=%d init=/init", kib)
}

// MappedRootName is the device-mapper name of a root MappedRootCmdline
// maps (the kernel's first mapped device: /dev/dm-0).
const MappedRootName = "mkimage-root"

// MappedRootCmdline is what a kernel with SquashfsRoot needs on its
// command line to boot a squashfs image of size bytes that lies at byte
// offset (a multiple of 512) of the partition dev (PARTUUID=..., or what
// a boot loader expands to that): args mounts /dev/dm-0 read-only as the
// root, and create makes dm-0 a read-only linear map of those sectors at
// boot (dm-mod.create, CONFIG_DM_INIT). No initrd, no stage-1 program. The
// kernel waits for the disk drivers' probes before it maps; a partition
// that is not there fails the mount, and the kernel panics (it does not
// wait for ever). create holds spaces: it must reach the kernel as one
// word in double quotes, "dm-mod.create=...", as GRUB quotes an argument.
func MappedRootCmdline(size, offset int64, dev string) (args, create string) {
	sectors := (size + 511) / 512
	args = "root=/dev/dm-0 ro rootfstype=squashfs init=/init"
	create = fmt.Sprintf("dm-mod.create=%s,,,ro,0 %d linear %s %d", MappedRootName, sectors, dev, offset/512)
	return args, create
}

// Local describes a kernel given in the config: a file (Path, Modules) or
// one to build (Build: BuildSmall).
type Local struct {
	Path, Modules string
	Build         string
}

// Resolve returns the kernel for b: local when loc.Path is set, the small
// kernel when loc.Build says so, else the board's module, downloaded into the module cache by the go command run in
// the tool's source tree src.
func Resolve(ctx context.Context, b board.Board, loc Local, src string, progress io.Writer) (Kernel, error) {
	if loc.Path != "" {
		return Kernel{Path: loc.Path, Modules: loc.Modules, Version: "local", Source: loc.Path}, nil
	}
	if loc.Build != "" {
		return buildSmall(ctx, b, progress)
	}
	ks := b.Kernel
	dir, version, err := ModuleDir(ctx, ks.Module, src, progress)
	if err != nil {
		return Kernel{}, fmt.Errorf("board %s: %w", b.Name, err)
	}
	k := Kernel{Path: filepath.Join(dir, ks.File), Version: version, Source: ks.Module}
	if ks.Modules != "" {
		k.Modules = filepath.Join(dir, ks.Modules)
	}
	if _, err := os.Stat(k.Path); err != nil {
		return Kernel{}, fmt.Errorf("kernel module %s@%s has no %s: %w", ks.Module, version, ks.File, err)
	}
	return k, nil
}
