package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/mkimage/mkimage/internal/flash"
)

func cmdFlash(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("flash", out)
	yes := fs.Bool("yes", false, "do not ask for confirmation (for scripts)")
	fs.Usage = func() {
		fmt.Fprintln(out, `usage: mkimage flash [--yes] IMAGE DEVICE

IMAGE is a disk.img, a disk.img.gz or a build output directory (DIR/<board>);
DEVICE is a whole block device (SD card, USB disk, loop device) or a file.
The device is opened exclusively (refused while mounted or in use) and held
until the write ends; after the confirmation flash checks it is still the
device shown (number, size, serial) and refuses otherwise. A DEVICE that
does not exist is refused under /dev (flash expects an existing disk there,
see lsblk) and created as a new file anywhere else.`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errUsage
	}
	return flash.Flash(fs.Arg(0), fs.Arg(1), flash.Options{
		Yes: *yes, In: os.Stdin, Out: out, Interactive: term.IsTerminal(int(os.Stdin.Fd())),
	})
}
