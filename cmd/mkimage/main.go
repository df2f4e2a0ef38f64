// Command mkimage turns one appliance.toml into a small bootable Linux
// appliance image that serves a web app, boots it under QEMU, and lists the
// boards it knows.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `mkimage builds small Linux appliance images that serve a web app.

Usage:
  mkimage init [-o DIR]                      write a commented example appliance
  mkimage build [-c appliance.toml] [-o DIR] build the image into DIR/<board>
  mkimage boot [-c appliance.toml | DIR/<board>] [flags]
                                             boot it under QEMU, print the URL
  mkimage flash [--yes] IMAGE DEVICE         write a disk image to an SD card, disk or file
  mkimage boards                             list the known boards
  mkimage keygen [-o DIR]                    make the key pair that signs updates
  mkimage update [-c appliance.toml | DIR/<board>] --to HOST[:PORT]
                                             build (with -c) or take the image, send it
                                             as a signed bundle, wait for the commit
  mkimage update DIR/<board> --bundle FILE.mkup
                                             only write the signed bundle
  mkimage update --to HOST[:PORT] FILE.mkup  send a bundle made earlier
  mkimage update --to HOST[:PORT] --status   print the appliance's update status
  mkimage update ... --to a,b,c | @FILE [--parallel N]
                                             roll out to several: a canary first, then N at
                                             a time, stopping at the first failed trial
  mkimage version

Run "mkimage COMMAND -h" for a command's flags.
`

// errUsage marks errors that should print the usage text.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer) error{
		"init":    cmdInit,
		"build":   cmdBuild,
		"boot":    cmdBoot,
		"boards":  cmdBoards,
		"flash":   cmdFlash,
		"version": cmdVersion,
		"keygen":  cmdKeygen,
		"update":  cmdUpdate,
		"relay":   cmdRelay, // not in the usage: QEMU runs it for boot -guestfwd
	}
	fn, ok := cmds[args[0]]
	if !ok {
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "mkimage: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := fn(ctx, args[1:], stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "mkimage %s: %v\n", args[0], err)
		var ec exitCode
		if errors.As(err, &ec) {
			return int(ec)
		}
		return 1
	}
}

// exitCode passes a child's exit status through.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
