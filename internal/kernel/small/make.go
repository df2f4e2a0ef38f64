package small

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// build unpacks src in a temporary directory under cacheDir, configures
// and builds it, and renames the image and its .config into dir. The
// make output goes to cacheDir/NAME.log, whose tail a failure shows.
func build(ctx context.Context, a Arch, src Source, cacheDir, dir string) error {
	removeLeftovers(cacheDir, dir)
	tmp, err := os.MkdirTemp(cacheDir, buildPrefix(dir))
	if err != nil {
		return fmt.Errorf("making the small kernel's build directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	logPath := dir + ".log"
	log, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("creating the small kernel's build log: %w", err)
	}
	defer log.Close()
	tree := filepath.Join(tmp, "src")
	if err := runSteps(ctx, a, src, tree, log); err != nil {
		return fmt.Errorf("building the small kernel for %s from %s: %w (log: %s)\n%s", a.GOARCH, src.Path, err, logPath, tail(logPath, 25))
	}
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return fmt.Errorf("making the small kernel's output directory: %w", err)
	}
	for from, to := range map[string]string{a.Image: filepath.Base(a.Image), ".config": "config", "System.map": "System.map"} {
		if err := os.Rename(filepath.Join(tree, from), filepath.Join(out, to)); err != nil {
			return fmt.Errorf("keeping the small kernel's %s: %w", from, err)
		}
	}
	if err := os.Rename(out, dir); err != nil {
		return fmt.Errorf("moving the small kernel into %s: %w", dir, err)
	}
	return nil
}

// buildPrefix names the build directories of the kernel cached in dir.
func buildPrefix(dir string) string { return ".build-" + filepath.Base(dir) + "-" }

// removeLeftovers removes the build directories (a kernel tree, about
// 1.3 GB unpacked) that killed builds of the kernel cached in dir left behind. The
// caller holds that kernel's lock, so none of them is in use.
func removeLeftovers(cacheDir, dir string) {
	old, _ := filepath.Glob(filepath.Join(cacheDir, buildPrefix(dir)+"*"))
	for _, p := range old {
		os.RemoveAll(p)
	}
}

// runSteps unpacks the source into tree and runs tinyconfig, the
// fragment, olddefconfig and the image's make, checking that every
// option of the fragment took effect.
func runSteps(ctx context.Context, a Arch, src Source, tree string, log io.Writer) error {
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(log, "unpacking %s\n", src.Path)
	if err := run(ctx, "", log, nil, "tar", "-xJf", src.Path, "-C", tree, "--strip-components=1"); err != nil {
		return err
	}
	env := buildEnv(src)
	mk := []string{"make", "ARCH=" + a.KArch}
	if p := a.crossPrefix(); p != "" {
		mk = append(mk, "CROSS_COMPILE="+p)
	}
	if err := run(ctx, tree, log, env, append(mk, "tinyconfig")...); err != nil {
		return err
	}
	if err := appendFile(filepath.Join(tree, ".config"), a.Fragment); err != nil {
		return err
	}
	if err := run(ctx, tree, log, env, append(mk, "olddefconfig")...); err != nil {
		return err
	}
	cfg, err := os.ReadFile(filepath.Join(tree, ".config"))
	if err != nil {
		return err
	}
	if err := checkConfig(a.Fragment, string(cfg)); err != nil {
		return err
	}
	jobs := "-j" + strconv.Itoa(runtime.NumCPU())
	return run(ctx, tree, log, env, append(mk, jobs, a.Target)...)
}

// run runs argv in dir with env added, its output going to log. It runs
// in a process group of its own, which ctx's end kills whole: make's
// sub-makes and compilers would otherwise go on for minutes after
// mkimage stopped on SIGTERM (the terminal's Ctrl-C reaches mkimage,
// which ends ctx).
func run(ctx context.Context, dir string, log io.Writer, env []string, argv ...string) error {
	fmt.Fprintf(log, "+ %s\n", strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkConfig reports every CONFIG_X=V line of the fragment that the
// resolved config does not have (an option whose dependencies are not
// met is dropped silently by kconfig), and every "# CONFIG_X is not set"
// line whose option is set all the same (another option selects it).
func checkConfig(fragment, config string) error {
	have := map[string]bool{}
	set := map[string]bool{}
	for _, l := range strings.Split(config, "\n") {
		l = strings.TrimSpace(l)
		have[l] = true
		if name, _, ok := strings.Cut(l, "="); ok && strings.HasPrefix(name, "CONFIG_") {
			set[name] = true
		}
	}
	var missing []string
	for _, l := range strings.Split(fragment, "\n") {
		l = strings.TrimSpace(l)
		if name, ok := unsetOption(l); ok {
			if set[name] {
				missing = append(missing, l)
			}
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !have[l] {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the kernel's config lacks %s (unmet dependencies?)", strings.Join(missing, ", "))
	}
	return nil
}

// unsetOption returns X's name for a "# CONFIG_X is not set" line.
func unsetOption(line string) (string, bool) {
	name, ok := strings.CutPrefix(line, "# ")
	if !ok {
		return "", false
	}
	name, ok = strings.CutSuffix(name, " is not set")
	if !ok || !strings.HasPrefix(name, "CONFIG_") || strings.Contains(name, " ") {
		return "", false
	}
	return name, true
}

// tail returns the last n lines of the file at path, indented.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
