package qemutests

// The proof for issue 13: mkimage works as an installed tool. Each test
// copies only the built binary into an empty directory and runs it with a
// fresh HOME, from a work directory with no go.mod above it and with an
// environment built from scratch (no MKIMAGE_SRC): what it builds, it builds
// from what it embeds, like a binary a user downloaded.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/qemu"
)

const selfModule = "github.com/mkimage/mkimage"

// installed is the mkimage binary copied away from its source tree, run in
// its own work directory with an environment built from scratch.
type installed struct {
	*Tool
	home, work string
}

// installTool makes an installed environment: T/bin/mkimage (a copy of the
// built binary and nothing else), a fresh HOME T/home and an empty work
// directory T/work outside any Go module. The environment holds PATH, HOME,
// TMPDIR, the go command's settings that matter (shared module and build
// caches keep CI fast), the timeout scale and acceleration if set, and extra.
func installTool(t *testing.T, extra ...string) *installed {
	t.Helper()
	root := t.TempDir()
	bin, home, work := filepath.Join(root, "bin"), filepath.Join(root, "home"), filepath.Join(root, "work")
	for _, d := range []string{bin, home, work} {
		must(t, os.Mkdir(d, 0o755))
	}
	exe := filepath.Join(bin, "mkimage")
	data, err := os.ReadFile(trimmedTool(t))
	must(t, err)
	must(t, os.WriteFile(exe, data, 0o755))
	noModuleAbove(t, work)

	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home}
	if v := os.Getenv("TMPDIR"); v != "" {
		env = append(env, "TMPDIR="+v)
	}
	goenv := goEnv(t, "GOMODCACHE", "GOCACHE", "GOPROXY", "GOSUMDB", "GOFLAGS", "GOTOOLCHAIN", "GONOSUMDB")
	for _, k := range []string{"GOMODCACHE", "GOCACHE"} {
		if goenv[k] == "" {
			t.Fatalf("go env %s is empty: the installed environment shares the parent's caches", k)
		}
	}
	for _, k := range []string{"GOMODCACHE", "GOCACHE", "GOPROXY", "GOSUMDB", "GOFLAGS", "GOTOOLCHAIN", "GONOSUMDB"} {
		if v := goenv[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	for _, k := range []string{"MKIMAGE_TIMEOUT_SCALE", "MKIMAGE_ACCEL"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, extra...)
	return &installed{Tool: &Tool{Path: exe, Env: env, Dir: work}, home: home, work: work}
}

var trimmed struct {
	once sync.Once
	path string
	err  error
}

// trimmedTool builds mkimage with -trimpath once, beside the test's own
// build: a binary that holds no path of the source tree, as `go install`
// from a module proxy would make it.
func trimmedTool(t *testing.T) string {
	t.Helper()
	trimmed.once.Do(func() {
		trimmed.path = filepath.Join(filepath.Dir(tool.Path), "mkimage-trimpath")
		cmd := exec.Command("go", "build", "-trimpath", "-o", trimmed.path, "./cmd/mkimage")
		cmd.Dir = tool.Src
		if out, err := cmd.CombinedOutput(); err != nil {
			trimmed.err = fmt.Errorf("building mkimage -trimpath: %w\n%s", err, out)
		}
	})
	if trimmed.err != nil {
		t.Fatal(trimmed.err)
	}
	data, err := os.ReadFile(trimmed.path)
	must(t, err)
	if bytes.Contains(data, []byte(tool.Src)) {
		t.Fatalf("the -trimpath binary still holds the source path %s", tool.Src)
	}
	return trimmed.path
}

// noModuleAbove fails the test if dir or any parent holds a go.mod or
// go.work: the installed tool must not find a module around it.
func noModuleAbove(t *testing.T, dir string) {
	t.Helper()
	for d := dir; ; d = filepath.Dir(d) {
		for _, name := range []string{"go.mod", "go.work"} {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				t.Fatalf("%s exists above the work directory %s: an installed run must be outside any Go module (set TMPDIR elsewhere)", filepath.Join(d, name), dir)
			}
		}
		if filepath.Dir(d) == d {
			return
		}
	}
}

// goEnv returns the go command's values of names, as this process sees them.
func goEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	b, err := exec.Command("go", append([]string{"env", "-json"}, names...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("go env -json: %v\n%s", err, b)
	}
	return m
}

// path is name inside the work directory.
func (in *installed) path(name string) string {
	return filepath.Join(in.work, filepath.FromSlash(name))
}

// mkimage runs the installed mkimage in the work directory and returns its
// combined output, failing the test if it exits non-zero.
func (in *installed) mkimage(t *testing.T, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := in.Command(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("installed mkimage %s (in %s): %v\n%s", strings.Join(args, " "), in.work, err, out)
	}
	t.Logf("installed mkimage %s: %.1f s", strings.Join(args, " "), time.Since(start).Seconds())
	return string(out)
}

var readyRE = regexp.MustCompile(`^init: ready: ok`)

// buildAndBoot builds the work directory's appliance.toml into out/, boots
// out/qemu-x86_64 and waits until init reports every service ready.
func (in *installed) buildAndBoot(t *testing.T) *Guest {
	t.Helper()
	in.mkimage(t, "build", "-c", "appliance.toml", "-o", "out")
	start := time.Now()
	g := in.Boot(t, filepath.Join("out", "qemu-x86_64"))
	g.Console.Expect(t, readyRE, qemu.Scaled(120*time.Second))
	t.Logf("boot to init ready: %.1f s", time.Since(start).Seconds())
	return g
}

// checkIndex checks GET / serves the www/index.html that init wrote (as
// the test edited it), byte for byte.
func (in *installed) checkIndex(t *testing.T, g *Guest) {
	t.Helper()
	want, err := os.ReadFile(in.path("www/index.html"))
	must(t, err)
	if got := get(t, g.URL, qemu.Scaled(30*time.Second)); !bytes.Equal(got, want) {
		t.Errorf("GET / = %q, want www/index.html as init wrote it: %q", got, want)
	}
}

// replaceOnce replaces the one occurrence of old in file with new.
func replaceOnce(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	must(t, err)
	if n := strings.Count(string(b), old); n != 1 {
		t.Fatalf("%s holds %q %d times, want exactly once:\n%s", file, old, n, b)
	}
	must(t, os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644))
}

// randomToken is a string no page holds unless the test put it there.
func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "token-" + hex.EncodeToString(b)
}

// starterConfig is the part of an init-written appliance.toml the tests check.
type starterConfig struct {
	Board string `toml:"board"`
	App   []struct {
		Name       string `toml:"name"`
		Prefix     string `toml:"prefix"`
		Program    string `toml:"program"`
		CheckLocal bool   `toml:"check_local"`
	} `toml:"app"`
}

func (in *installed) readConfig(t *testing.T) starterConfig {
	t.Helper()
	b, err := os.ReadFile(in.path("appliance.toml"))
	must(t, err)
	var c starterConfig
	if err := toml.Unmarshal(b, &c); err != nil {
		t.Fatalf("the appliance.toml init wrote: %v\n%s", err, b)
	}
	return c
}

// contentType GETs url once (the guest is ready) and returns its Content-Type.
func contentType(t *testing.T, url string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: qemu.Scaled(30 * time.Second)}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.Header.Get("Content-Type")
}

var requireRE = regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(selfModule) + `\s+(v\S+)`)

// A user's own Go module, written by `mkimage init --app go`, requires
// mkimage's module like a published dependency; the installed tool builds
// it and the image serves its page. `mkimage version` names the tool's
// version and module.
func TestInstalledGoApp(t *testing.T) {
	needQEMU(t)
	in := installTool(t)
	in.mkimage(t, "init", "--app", "go")
	cfg := in.readConfig(t)
	if cfg.Board != "qemu-x86_64" || len(cfg.App) != 1 || cfg.App[0].Name != "app" || cfg.App[0].Prefix != "/app" || cfg.App[0].Program != "./app" {
		t.Errorf("appliance.toml: board %q, apps %+v; want qemu-x86_64 and one app \"app\" at /app, program ./app", cfg.Board, cfg.App)
	}
	gomod, err := os.ReadFile(in.path("app/go.mod"))
	must(t, err)
	m := requireRE.FindSubmatch(gomod)
	if m == nil {
		t.Fatalf("app/go.mod does not require %s:\n%s", selfModule, gomod)
	}
	modVersion := string(m[1])
	if regexp.MustCompile(`(?m)^\s*replace\b`).Match(gomod) {
		t.Errorf("app/go.mod replaces a module (it must resolve %s like a published dependency):\n%s", selfModule, gomod)
	}
	if _, err := os.Stat(in.path("app/go.sum")); err != nil {
		t.Errorf("init wrote no app/go.sum: %v", err)
	}
	mainGo, err := os.ReadFile(in.path("app/main.go"))
	must(t, err)
	if !bytes.Contains(mainGo, []byte(`"`+selfModule+`/fcgiserver"`)) {
		t.Errorf("app/main.go does not import %s/fcgiserver:\n%s", selfModule, mainGo)
	}
	token := randomToken(t)
	replaceOnce(t, in.path("app/main.go"), "Hello from your app", token)

	version := in.mkimage(t, "version")
	if !strings.HasPrefix(version, "mkimage ") || !strings.Contains(version, selfModule) || !strings.Contains(version, modVersion) {
		t.Errorf("mkimage version = %q, want the tool's version and module %s %s (the version app/go.mod requires)", version, selfModule, modVersion)
	}

	g := in.buildAndBoot(t)
	man, err := manifest.Read(in.path("out/qemu-x86_64"))
	must(t, err)
	if man.ToolVersion == "" || !strings.Contains(version, man.ToolVersion) {
		t.Errorf("mkimage version = %q does not name the tool version %q the manifest records", version, man.ToolVersion)
	}
	if page := string(get(t, g.URL+"app/", qemu.Scaled(30*time.Second))); !strings.Contains(page, token) {
		t.Errorf("GET /app/ lacks the token %s put in app/main.go:\n%s", token, page)
	}
	if ct := contentType(t, g.URL+"app/"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /app/: Content-Type %q, want text/plain", ct)
	}
	in.checkIndex(t, g)
	powerOff(t, g)
}

// `mkimage init --app static` builds and serves its page.
func TestInstalledStatic(t *testing.T) {
	needQEMU(t)
	in := installTool(t)
	in.mkimage(t, "init", "--app", "static")
	if cfg := in.readConfig(t); len(cfg.App) != 0 {
		t.Errorf("a static appliance.toml has apps: %+v", cfg.App)
	}
	token := randomToken(t)
	replaceOnce(t, in.path("www/index.html"), "It works", token)
	g := in.buildAndBoot(t)
	in.checkIndex(t, g)
	powerOff(t, g)
}

// `mkimage init --app php` packs the host's php-cgi and runs its page.
func TestInstalledPHP(t *testing.T) {
	needQEMU(t)
	php, err := exec.LookPath("php-cgi")
	if err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
			t.Fatal("php-cgi is required (MKIMAGE_REQUIRE_PEERS=1) but missing")
		}
		t.Skip("php-cgi not installed")
	}
	in := installTool(t)
	in.mkimage(t, "init", "--app", "php")
	cfg := in.readConfig(t)
	if len(cfg.App) != 1 || cfg.App[0].Name != "php" || cfg.App[0].Prefix != "/php" || !cfg.App[0].CheckLocal {
		t.Errorf("appliance.toml apps %+v, want one app \"php\" at /php with check_local", cfg.App)
	} else if prog := cfg.App[0].Program; !filepath.IsAbs(prog) || !os.SameFile(stat(t, prog), stat(t, php)) {
		t.Errorf("appliance.toml program %q, want the host's php-cgi %s", prog, php)
	}
	token := randomToken(t)
	replaceOnce(t, in.path("www/php/index.php"), "Hello from PHP", token)
	g := in.buildAndBoot(t)
	page := string(get(t, g.URL+"php/index.php", qemu.Scaled(30*time.Second)))
	if !strings.Contains(page, token) || strings.Contains(page, "<?php") {
		t.Errorf("GET /php/index.php is not the script's output with the token %s:\n%s", token, page)
	}
	in.checkIndex(t, g)
	powerOff(t, g)
}

func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	return fi
}

// The example appliance built by the in-tree binary (from the source tree)
// and by the installed one (from `mkimage init` in an empty directory) is
// the same bytes: kernel, initramfs and disk image.
func TestInstalledSameBytes(t *testing.T) {
	const epoch = "SOURCE_DATE_EPOCH=1700000000"
	in := installTool(t, epoch)
	inTree := *tool
	inTree.Dir = tool.Src
	treeOut := filepath.Join(t.TempDir(), "out")
	cmd := inTree.Command("build", "-c", exampleConfig(), "-o", treeOut)
	// The same user: the example's [update] bakes in the user's public
	// key, which the first build makes.
	cmd.Env = append(cmd.Env, epoch, "XDG_CONFIG_HOME="+filepath.Join(in.home, ".config"))
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in-tree mkimage build (in %s): %v\n%s", tool.Src, err, b)
	}
	t.Logf("in-tree mkimage build: %.1f s", time.Since(start).Seconds())

	in.mkimage(t, "init")
	sameFiles(t, filepath.Join(tool.Src, "examples", "appliance"), in.work)
	in.mkimage(t, "build", "-c", "appliance.toml", "-o", "out")

	tree := readManifest(t, filepath.Join(treeOut, "qemu-x86_64"))
	inst := readManifest(t, in.path("out/qemu-x86_64"))
	t.Logf("in-tree:   kernel %s initramfs %s disk %s", tree.Kernel.SHA256, tree.Initramfs.SHA256, tree.Disk.SHA256)
	t.Logf("installed: kernel %s initramfs %s disk %s", inst.Kernel.SHA256, inst.Initramfs.SHA256, inst.Disk.SHA256)
	for _, c := range []struct{ what, tree, inst string }{
		{"kernel", tree.Kernel.SHA256, inst.Kernel.SHA256},
		{"initramfs", tree.Initramfs.SHA256, inst.Initramfs.SHA256},
		{"disk image", tree.Disk.SHA256, inst.Disk.SHA256},
	} {
		if c.tree != c.inst {
			t.Errorf("%s differs: in-tree sha256 %s, installed %s", c.what, c.tree, c.inst)
		}
	}
}

func readManifest(t *testing.T, dir string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Disk == nil {
		t.Fatalf("%s: the build wrote no disk image", dir)
	}
	return m
}

// sameFiles checks the trees want and got hold the same files with the
// same bytes.
func sameFiles(t *testing.T, want, got string) {
	t.Helper()
	w, g := readTree(t, want), readTree(t, got)
	for name, b := range w {
		if gb, ok := g[name]; !ok {
			t.Errorf("init did not write %s", name)
		} else if !bytes.Equal(gb, b) {
			t.Errorf("init wrote %s different from %s", name, filepath.Join(want, name))
		}
	}
	for name := range g {
		if _, ok := w[name]; !ok {
			t.Errorf("init wrote %s, which %s does not have", name, want)
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	return files
}
