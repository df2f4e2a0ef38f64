package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/mkimage/mkimage"
	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/build"
	"github.com/mkimage/mkimage/internal/guestsrc"
)

// cmdVersion prints the tool's version and what it builds into images:
// the guest programs (from the sources it carries), the module apps
// require, and each board's kernel pinned by the embedded go.mod.
func cmdVersion(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("version", out)
	if err := parse(fs, args); err != nil {
		return err
	}
	t, err := guestsrc.Describe(mkimage.GuestSource)
	if err != nil {
		return err
	}
	pins, err := pinnedModules()
	if err != nil {
		return err
	}
	goVersion := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	fmt.Fprintf(out, "mkimage %s (built with %s for %s/%s)\n", mkimage.Version, goVersion, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(out, "module    %s %s: what apps require (served to the go command by this binary)\n", guestsrc.Module, t.Version)
	fmt.Fprintf(out, "guest     /init, one binary that is also /bin/httpfront, /bin/modload and /bin/updated (%s): built for the board from %d embedded files (%.0f KiB, sha256 %s)\n",
		strings.Join(build.GuestPackages(), " "), t.Files, float64(t.Bytes)/1024, t.Sum[:16])
	fmt.Fprintf(out, "go        %s\n", goCommand(ctx))
	seen := map[string]bool{}
	for _, b := range board.All() {
		if m := b.Kernel.Module; !seen[m] {
			seen[m] = true
			fmt.Fprintf(out, "kernel    %s %s (%s)\n", m, pins[m], strings.Join(boardsWithKernel(m), ", "))
		}
	}
	for _, b := range board.All() {
		if len(b.Disk.Firmware) > 0 {
			fmt.Fprintf(out, "firmware  github.com/gokrazy/firmware %s (Raspberry Pi boot files)\n", pins["github.com/gokrazy/firmware"])
			break
		}
	}
	return nil
}

// goCommand says which go command builds the guest programs and apps.
func goCommand(ctx context.Context) string {
	path, err := exec.LookPath("go")
	if err != nil {
		return "no go command found: building an image needs Go (go.dev/dl)"
	}
	v, err := exec.CommandContext(ctx, path, "env", "GOVERSION").Output()
	if err != nil {
		return fmt.Sprintf("%s does not run: %v", path, err)
	}
	return fmt.Sprintf("%s (%s) builds them", strings.TrimSpace(string(v)), path)
}

func boardsWithKernel(module string) []string {
	var names []string
	for _, b := range board.All() {
		if b.Kernel.Module == module {
			names = append(names, b.Name)
		}
	}
	return names
}

// pinnedModules reads the versions the embedded go.mod requires.
func pinnedModules() (map[string]string, error) {
	data, err := fs.ReadFile(mkimage.GuestSource, "go.mod")
	if err != nil {
		return nil, fmt.Errorf("reading the embedded go.mod: %w", err)
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the embedded go.mod: %w", err)
	}
	pins := map[string]string{}
	for _, r := range f.Require {
		pins[r.Mod.Path] = r.Mod.Version
	}
	return pins, nil
}
