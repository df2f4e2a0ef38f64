// Package build runs the build pipeline: config → board + kernel → rootfs →
// output directory with manifest. It writes into a temporary directory
// beside the output and renames it into place at the end, so a failed
// build leaves no half-written output behind.
package build

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mkimage/mkimage"
	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/files"
	"github.com/mkimage/mkimage/internal/guestsrc"
	"github.com/mkimage/mkimage/internal/kernel"
	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// ToolVersion is this tool's version, recorded in manifests.
const ToolVersion = mkimage.Version

// Output file names inside DIR/<board>/: the kernel, and the system it
// boots, an initramfs or (for a kernel that mounts it as its root, the
// small kernel's) a squashfs image.
const (
	KernelFile    = "kernel"
	InitramfsFile = "initramfs.cpio.zst"
	SquashfsFile  = "root.squashfs"
)

// systemFile is the name of the file the system is written to for k.
func systemFile(k kernel.Kernel) string {
	if k.SquashfsRoot {
		return SquashfsFile
	}
	return InitramfsFile
}

// Options are the build's inputs besides the config.
type Options struct {
	OutDir string
	// SourceDateEpoch is the mtime of every file in the image.
	SourceDateEpoch uint64
	// Progress receives one line per step; nil discards.
	Progress io.Writer
	// NoDisk skips the disk image; DiskFormats lists encodings written
	// beside the raw disk.img ("gz", "qcow2").
	NoDisk      bool
	DiskFormats []string
	// DryRun describes the plan to Progress and writes nothing.
	DryRun bool
}

// Run builds cfg into opts.OutDir/<board> and returns the manifest and the
// directory it wrote.
func Run(ctx context.Context, cfg *config.Config, opts Options) (*manifest.Manifest, string, error) {
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}
	b, err := board.Lookup(cfg.Board)
	if err != nil {
		return nil, "", cfg.Errorf("board", "%v", err)
	}
	tree, err := guestsrc.Open()
	if err != nil {
		return nil, "", err
	}
	goEnv, err := tree.GoEnv(ctx)
	if err != nil {
		return nil, "", err
	}
	t := time.Now()
	if err := kernel.CheckBuild(b, cfg.Kernel.Build); err != nil {
		return nil, "", cfg.Errorf("kernel.build", "%v", err)
	}
	loc := kernel.Local{Path: cfg.Resolve(cfg.Kernel.Path), Modules: cfg.Resolve(cfg.Kernel.Modules), Build: cfg.Kernel.Build}
	k, err := kernel.Resolve(ctx, b, loc, tree.Dir, opts.Progress)
	if err != nil {
		return nil, "", err
	}
	say("kernel   %s %s (%v)", k.Source, k.Version, time.Since(t).Round(time.Millisecond))
	if err := ensureUpdateKey(cfg, opts.DryRun, say); err != nil {
		return nil, "", err
	}
	p, err := derive(cfg, b, tree.Dir)
	if err != nil {
		return nil, "", err
	}
	p.goEnv = goEnv
	for _, h := range p.https {
		if !opts.DryRun && strings.HasPrefix(h, "warning:") {
			say("https    %s", h)
		}
	}
	if err := p.addKernel(cfg, b, k); err != nil {
		return nil, "", err
	}
	if opts.DryRun {
		return nil, "", p.describe(opts.Progress, b, k)
	}
	// The go command runs in other directories: every path handed to it
	// must be absolute.
	outDir, err := filepath.Abs(opts.OutDir)
	if err != nil {
		return nil, "", fmt.Errorf("resolving output directory %s: %w", opts.OutDir, err)
	}
	opts.OutDir = outDir
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, "", fmt.Errorf("creating output directory: %w", err)
	}
	tmp, err := os.MkdirTemp(opts.OutDir, "."+b.Name+".tmp-")
	if err != nil {
		return nil, "", fmt.Errorf("creating temporary output directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, "", fmt.Errorf("creating temporary output directory: %w", err)
	}
	m, err := assemble(ctx, cfg, b, k, p, tmp, opts, say)
	if err != nil {
		return nil, "", err
	}
	final := filepath.Join(opts.OutDir, b.Name)
	if err := os.RemoveAll(final); err != nil {
		return nil, "", fmt.Errorf("replacing %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, "", fmt.Errorf("moving the image into %s: %w", final, err)
	}
	return m, final, nil
}

func assemble(ctx context.Context, cfg *config.Config, b board.Board, k kernel.Kernel, p plan, dir string, opts Options, say func(string, ...any)) (*manifest.Manifest, error) {
	work := filepath.Join(dir, ".work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return nil, fmt.Errorf("creating build directory: %w", err)
	}
	defer os.RemoveAll(work)
	pkgs, debTrees, err := p.debian.fetch(ctx, cfg, b, opts.Progress)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	say("rootfs   building %d programs for linux/%s with the go command (cached after the first build)", len(p.programs), b.GOARCH)
	res, err := writeInitramfs(ctx, rootfs.Options{
		GOARCH: b.GOARCH, Programs: p.programs, Trees: append(p.trees, debTrees...), HostFiles: p.hostFiles,
		Files: p.files, Perms: p.perms, MTime: opts.SourceDateEpoch, WorkDir: work, GoEnv: p.goEnv,
		EndMarker: spec.InitramfsEndPath, Cache: buildCache(), Squashfs: k.SquashfsRoot,
	}, filepath.Join(dir, systemFile(k)))
	if err != nil {
		return nil, err
	}
	say("rootfs   %d programs, %d trees, %d Debian packages, cpio %s, %s (%v)", len(p.programs), len(p.trees), len(pkgs), size(res.CPIO), systemFile(k), time.Since(t).Round(time.Millisecond))
	if err := files.Copy(k.Path, filepath.Join(dir, KernelFile)); err != nil {
		return nil, err
	}
	var rootArgs string
	if k.SquashfsRoot {
		st, err := os.Stat(filepath.Join(dir, SquashfsFile))
		if err != nil {
			return nil, fmt.Errorf("reading the squashfs root's size: %w", err)
		}
		rootArgs = kernel.RootCmdline(st.Size())
	}
	m := &manifest.Manifest{
		Board: b.Name, Arch: b.GOARCH, Console: b.Console,
		Cmdline:       cmdline(cfg, b, k, rootArgs),
		KernelVersion: k.Version, KernelSource: k.Source, ToolVersion: ToolVersion,
		Hostname: cfg.Hostname, HTTPPort: HTTPPort,
	}
	if u := p.init.Update; u != nil {
		m.Version = u.Version
		m.UpdatePort, _ = cfg.Update.ListenPort() // validated
	}
	if cfg.HTTPS() {
		m.HTTPSPort = httpsPort(cfg)
	}
	for _, e := range res.Entries[:len(res.Entries)-len(debTrees)] { // the packages are in m.Debian
		m.Contents = append(m.Contents, manifest.ContentsEntry{Path: e.Target, Bytes: e.Bytes})
	}
	m.Debian = debianManifest(pkgs)
	if m.Kernel, err = manifest.Describe(dir, KernelFile); err != nil {
		return nil, err
	}
	if m.Initramfs, err = manifest.Describe(dir, systemFile(k)); err != nil {
		return nil, err
	}
	if err := writeDisk(ctx, cfg, b, k, p.src, dir, m, opts, say); err != nil {
		return nil, err
	}
	return m, m.Write(dir)
}

// cmdline is the kernel command line: the board's console and options,
// the kernel's, rootArgs (how the kernel finds the root) and the config's.
func cmdline(cfg *config.Config, b board.Board, k kernel.Kernel, rootArgs string) string {
	return strings.Join(strings.Fields("console="+b.Console+" "+b.Cmdline+" "+k.Cmdline+" "+rootArgs+" "+cfg.Kernel.Cmdline), " ")
}

func writeInitramfs(ctx context.Context, o rootfs.Options, path string) (rootfs.Result, error) {
	f, err := os.Create(path)
	if err != nil {
		return rootfs.Result{}, fmt.Errorf("creating initramfs: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	res, err := rootfs.Build(ctx, o, w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing initramfs: %w", cerr)
	}
	return res, err
}

func size(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
