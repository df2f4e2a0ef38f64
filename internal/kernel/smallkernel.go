package kernel

import (
	"context"
	"fmt"
	"io"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/kernel/small"
)

// BuildSmall is [kernel] build's value for the small kernel.
const BuildSmall = "small"

// CheckBuild says whether board b can boot the kernel `[kernel] build`
// names: the small kernel has the drivers of the QEMU machines (and of a
// common VPS), not a Raspberry Pi's.
func CheckBuild(b board.Board, build string) error {
	if build == "" {
		return nil
	}
	if build != BuildSmall {
		return fmt.Errorf("unknown kernel build %q (known: %q)", build, BuildSmall)
	}
	if b.Disk.Layout == board.LayoutRPi {
		return fmt.Errorf("the small kernel has no Raspberry Pi drivers: board %s boots its own kernel (remove [kernel] build)", b.Name)
	}
	if _, err := small.ForGOARCH(b.GOARCH); err != nil {
		return fmt.Errorf("board %s: %w", b.Name, err)
	}
	return nil
}

// buildSmall returns the small kernel for b, building it on first use.
func buildSmall(ctx context.Context, b board.Board, progress io.Writer) (Kernel, error) {
	if err := CheckBuild(b, BuildSmall); err != nil {
		return Kernel{}, err
	}
	a, err := small.ForGOARCH(b.GOARCH)
	if err != nil {
		return Kernel{}, err
	}
	dir, err := small.DefaultCacheDir()
	if err != nil {
		return Kernel{}, err
	}
	k, err := small.Build(ctx, a, small.Options{CacheDir: dir, Progress: progress})
	if err != nil {
		return Kernel{}, err
	}
	return Kernel{
		Path:    k.Path,
		Version: k.Source.Version + " config " + k.ConfigHash[:12],
		Source:  "small kernel from " + k.Source.Name,
		// The root is a squashfs (RootCmdline): the example appliance's
		// 16 MiB of files take 5.9 MiB of RAM compressed, where an
		// initramfs held them unpacked, and at its unpacking the
		// compressed archive and zstd's window as well.
		SquashfsRoot: true,
	}, nil
}
