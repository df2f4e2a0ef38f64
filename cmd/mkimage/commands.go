package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/examples"
	"github.com/mkimage/mkimage/internal/build"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/guestsrc"
	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/starter"
)

func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mkimage "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return errUsage
	}
	return nil
}

func cmdBoards(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("boards", out)
	if err := parse(fs, args); err != nil {
		return err
	}
	// A table to compare boards, then each board in words.
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BOARD\tARCH\tDISK\tQEMU BOOT\tPROVEN ON (by qemu-tests in CI)")
	for _, b := range board.All() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Name, b.GOARCH, orDash(b.Disk.Layout), bootModes(b), b.Proven)
	}
	fmt.Fprintln(tw)
	for _, b := range board.All() {
		fmt.Fprintf(tw, "%s\t%s; console %s, kernel %s\n", b.Name, b.Description, b.Console, b.Kernel.Module)
	}
	return tw.Flush()
}

func cmdInit(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("init", out)
	o := starter.Options{}
	fs.StringVar(&o.Dir, "o", ".", "directory to write appliance.toml and the app into")
	fs.BoolVar(&o.Force, "f", false, "overwrite existing files")
	var kinds []string
	for _, k := range examples.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s: %s", k.Name, k.Description))
	}
	fs.StringVar(&o.Kind, "app", examples.Kinds[0].Name, "what to start from:\n"+strings.Join(kinds, "\n"))
	fs.StringVar(&o.Module, "module", "example.com/app", "the Go app's module path (-app go)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Kind == "go" {
		var err error
		if o.Tree, err = guestsrc.Open(); err != nil {
			return err
		}
		if o.GoEnv, err = o.Tree.GoEnv(ctx); err != nil {
			return err
		}
	}
	written, err := starter.Write(ctx, o)
	for _, w := range written {
		fmt.Fprintln(out, "wrote", w)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "next: mkimage boot -c %s\n", filepath.Join(o.Dir, "appliance.toml"))
	return nil
}

func sourceDateEpoch() (uint64, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", v)
	}
	return n, nil
}

// buildImage loads the config and builds it, printing progress and a
// summary; it returns the output directory.
func buildImage(ctx context.Context, cfgPath, outDir string, out io.Writer, extra ...build.Options) (string, error) {
	start := time.Now()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return "", err
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return "", err
	}
	opts := build.Options{OutDir: outDir, SourceDateEpoch: epoch, Progress: out}
	if len(extra) > 0 {
		opts.NoDisk, opts.DiskFormats, opts.DryRun = extra[0].NoDisk, extra[0].DiskFormats, extra[0].DryRun
	}
	m, dir, err := build.Run(ctx, cfg, opts)
	if err != nil || opts.DryRun {
		return "", err
	}
	printSummary(out, m, dir, time.Since(start))
	return dir, nil
}

func printSummary(out io.Writer, m *manifest.Manifest, dir string, took time.Duration) {
	fmt.Fprintf(out, "built    %s (%s) in %v\n", m.Board, m.Arch, took.Round(time.Millisecond))
	fmt.Fprintf(out, "  %-9s %s  %s\n", "kernel", mib(m.Kernel.Size), filepath.Join(dir, m.Kernel.Name))
	system := "initramfs"
	if strings.HasSuffix(m.Initramfs.Name, ".squashfs") {
		system = "root"
	}
	fmt.Fprintf(out, "  %-9s %s  %s\n", system, mib(m.Initramfs.Size), filepath.Join(dir, m.Initramfs.Name))
	var parts []string
	for _, c := range m.Contents {
		parts = append(parts, fmt.Sprintf("%s %s", c.Path, mib(c.Bytes)))
	}
	fmt.Fprintf(out, "  contents  %s\n", strings.Join(parts, ", "))
	printDiskSummary(out, m, dir)
}

func mib(n int64) string { return fmt.Sprintf("%6.1f MiB", float64(n)/(1<<20)) }

func cmdBuild(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("build", out)
	cfgPath := fs.String("c", "appliance.toml", "appliance config")
	outDir := fs.String("o", "out", "output directory (the image goes to DIR/<board>)")
	diskOpts := diskFlags(fs)
	dry := fs.Bool("dry-run", false, "print the plan (what goes into the image, from where) and write nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the config is given with -c)", fs.Arg(0))
	}
	opts, err := diskOpts()
	if err != nil {
		return err
	}
	opts.DryRun = *dry
	_, err = buildImage(ctx, *cfgPath, *outDir, out, opts)
	return err
}
