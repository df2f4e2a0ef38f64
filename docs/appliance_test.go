package docs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mkimage/mkimage/httpfront"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/imagetest"
	"github.com/mkimage/mkimage/internal/qemu"
	"github.com/mkimage/mkimage/internal/testkit"
	qemutests "github.com/mkimage/mkimage/qemu-tests"
	"github.com/mkimage/mkimage/spec"
)

var (
	toolOnce sync.Once
	toolDir  string
	tool     *qemutests.Tool
	toolErr  error
)

// mkimage builds the mkimage command once.
func mkimage(t *testing.T) *qemutests.Tool {
	t.Helper()
	toolOnce.Do(func() {
		src, err := filepath.Abs("..")
		if err != nil {
			toolErr = err
			return
		}
		if toolDir, toolErr = os.MkdirTemp("", "guide-mkimage-"); toolErr != nil {
			return
		}
		tool, toolErr = qemutests.BuildTool(src, toolDir)
	})
	if toolErr != nil {
		t.Fatal(toolErr)
	}
	return tool
}

// appliance is a guide config built with mkimage build.
type appliance struct {
	site     *site
	config   string // appliance.toml
	out      string // out/qemu-x86_64
	front    spec.Front
	init     spec.Init
	manifest struct {
		Cmdline string `json:"cmdline"`
	}
}

// buildAppliance writes the guide's block as appliance.toml beside www/
// and public/, builds it, and reads the specs mkimage put in the image.
func buildAppliance(t *testing.T, id string) *appliance {
	t.Helper()
	tl := mkimage(t)
	a := &appliance{site: newSite(t)}
	a.config = filepath.Join(a.site.Dir, "appliance.toml")
	write(t, a.config, guideBlock(t, id))
	outDir := filepath.Join(a.site.Dir, "out")
	start := time.Now()
	cmd := tl.Command("build", "-c", a.config, "-o", outDir)
	cmd.Dir = a.site.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage build of the guide's %q config: %v\n%s", id, err, out)
	}
	t.Logf("mkimage build %s: %v", id, time.Since(start).Round(time.Millisecond))
	a.out = filepath.Join(outDir, "qemu-x86_64")
	files := readInitramfs(t, filepath.Join(a.out, "initramfs.cpio.zst"), spec.FrontPath, spec.InitPath)
	if err := json.Unmarshal(files[spec.FrontPath], &a.front); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(files[spec.InitPath], &a.init); err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(filepath.Join(a.out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m, &a.manifest); err != nil {
		t.Fatal(err)
	}
	return a
}

// readInitramfs returns the named files of a zstd-compressed cpio.
func readInitramfs(t *testing.T, path string, names ...string) map[string][]byte {
	t.Helper()
	all := imagetest.Initramfs(t, path)
	out := map[string][]byte{}
	for _, n := range names {
		if out[n] = all[n]; out[n] == nil {
			t.Fatalf("%s has no %s", path, n)
		}
	}
	return out
}

// upstream is the appliance's front end run on the host.
type upstream struct {
	base string
	log  *syncBuffer
	stop func() // stops the app's processes
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(&b.b, format+"\n", args...)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// hostFront runs the image's front end spec on the host: the same
// httpfront, with the image's paths mapped back to the config's
// directories and each pool run as one process of the example app with
// the pool's environment. There is no init, so no status page.
func hostFront(t *testing.T, a *appliance) *upstream {
	t.Helper()
	shared(t)
	cfg, err := config.Load(a.config)
	if err != nil {
		t.Fatal(err)
	}
	f := a.front
	if f.Root != spec.WebRoot {
		t.Fatalf("front root %q, want %s", f.Root, spec.WebRoot)
	}
	f.Root = cfg.Resolve(cfg.Web.Root)
	for i := range f.Aliases {
		f.Aliases[i].Dir = cfg.Resolve(cfg.Web.Aliases[i].Dir)
	}
	f.Status = spec.StatusPage{}
	var procs []*exec.Cmd
	for _, p := range a.init.Pools {
		sock := filepath.Join(a.site.Dir, p.Name+".sock")
		cmd := exec.Command(appBin)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "FCGI_LISTEN=" + sock}, p.Env...)
		for k, v := range map[string]int{"FCGI_MAX_THREADS": p.MaxThreads, "FCGI_MIN_SPARE": p.MinSpare, "FCGI_MAX_SPARE": p.MaxSpare} {
			if v > 0 {
				cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", k, v))
			}
		}
		testkit.StartProc(t, cmd, filepath.Join(a.site.Dir, p.Name+".log"))
		testkit.WaitSocket(t, sock)
		procs = append(procs, cmd)
		for i := range f.Apps {
			if f.Apps[i].Pool == p.Name {
				f.Apps[i].Backends = []string{"unix:" + sock}
			}
		}
	}
	up := &upstream{log: &syncBuffer{}}
	srv, err := httpfront.NewServer(f, httpfront.ServerOptions{Options: httpfront.Options{Logf: up.log.logf}, AccessLog: io.Discard})
	if err != nil {
		t.Fatalf("httpfront rejects the image's spec: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	up.base = "http://" + ln.Addr().String()
	up.stop = func() {
		for _, c := range procs {
			c.Process.Signal(os.Interrupt)
			c.Process.Wait()
		}
	}
	return up
}

// TestAppliance builds section 1's appliance, checks that every knob made
// it into the image, and serves the image's front end spec on the host.
func TestAppliance(t *testing.T) {
	shared(t)
	a := buildAppliance(t, "appliance")
	if len(a.init.Pools) != 1 {
		t.Fatalf("pools: %+v", a.init.Pools)
	}
	p := a.init.Pools[0]
	if p.Name != "myapp" || p.Procs != 1 || p.StackSize != 256<<10 || p.MaxThreads != 50 || p.MinSpare != 1 || p.MaxSpare != 5 {
		t.Errorf("pool in the image: %+v", p)
	}
	for _, e := range []string{"LANG=C", "APP_CACHE_DIR=/tmp/myapp"} {
		if !slices.Contains(p.Env, e) {
			t.Errorf("pool env %q lacks %s", p.Env, e)
		}
	}
	if !slices.Equal(p.CopyEnv, []string{"TZ"}) || !strings.Contains(a.manifest.Cmdline, "TZ=UTC") {
		t.Errorf("copy_env %q, cmdline %q: want TZ copied from the kernel command line", p.CopyEnv, a.manifest.Cmdline)
	}
	var prefixes []string
	for _, al := range a.front.Aliases {
		prefixes = append(prefixes, al.Prefix)
	}
	if !slices.Equal(prefixes, []string{"/images", "/css", "/javascript"}) || a.front.Status.Path != "/.status" {
		t.Errorf("front spec: aliases %q, status %+v", prefixes, a.front.Status)
	}

	up := hostFront(t, a)
	checkStatic(t, up.base, a.site)
	if cc := get(t, up.base+"/images/dot.gif").Header.Get("Cache-Control"); cc != "public, max-age=86400" {
		t.Errorf("Cache-Control of /images/dot.gif: %q", cc)
	}
	if cc := get(t, up.base+"/css/site.css").Header.Get("Cache-Control"); cc != "" {
		t.Errorf("Cache-Control of /css/site.css: %q, want none", cc)
	}
	page := checkApp(t, up.base)
	poolKnobs(t, page)

	// Troubleshooting, "503": the app is gone.
	up.stop()
	if r := get(t, up.base+"/app/hello"); r.Status != 503 {
		t.Errorf("GET /app/hello with the app stopped: %d, want 503", r.Status)
	}
	checkOutput(t, "front-no-backend", up.log.String())

	// Troubleshooting, "wrong prefix": a trailing slash is refused.
	data, err := os.ReadFile(a.config)
	if err != nil {
		t.Fatal(err)
	}
	write(t, a.config, fill(t, string(data), `prefix = "/app"`, `prefix = "/app/"`))
	cmd := mkimage(t).Command("build", "-c", "appliance.toml", "-o", filepath.Join(a.site.Dir, "bad"))
	cmd.Dir = a.site.Dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("mkimage build accepted prefix \"/app/\"")
	}
	checkOutput(t, "prefix-error", string(out))
}

// TestApplianceRoot builds the app-at-/ variant: static files still win,
// everything else reaches the app with an empty SCRIPT_NAME.
func TestApplianceRoot(t *testing.T) {
	shared(t)
	a := buildAppliance(t, "appliance-root")
	if len(a.front.Apps) != 1 || a.front.Apps[0].Prefix != "/" {
		t.Fatalf("front apps: %+v", a.front.Apps)
	}
	up := hostFront(t, a)
	checkStatic(t, up.base, a.site)
	if r := get(t, up.base+"/hello"); r.Status != 200 || r.Body != "hello\n" {
		t.Errorf("GET /hello: %d %q", r.Status, r.Body)
	}
	if r := get(t, up.base+"/echo"); r.Status != 200 || !strings.Contains(r.Body, "fcgiapp echo") {
		t.Errorf("GET /echo: %d %.300s", r.Status, r.Body)
	}
	if r := get(t, up.base+"/css/missing.css"); r.Status != 404 {
		t.Errorf("GET /css/missing.css: %d, want the alias's 404", r.Status)
	}
}

// TestApplianceBoot boots section 1's appliance under QEMU, checks it
// serves the site and the app with the guide's knobs, then puts the
// guide's nginx reverse proxy in front of it.
func TestApplianceBoot(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_QEMU") == "1" {
			t.Fatal("qemu-system-x86_64 is required (MKIMAGE_REQUIRE_QEMU=1) but missing")
		}
		t.Skip("qemu-system-x86_64 not installed")
	}
	shared(t)
	a := buildAppliance(t, "appliance")
	start := time.Now()
	g := mkimage(t).Boot(t, a.out)
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(120*time.Second))
	t.Logf("boot to ready: %.1f s", time.Since(start).Seconds())
	base := strings.TrimSuffix(g.URL, "/")

	checkStatic(t, base, a.site)
	page := checkApp(t, base)
	poolKnobs(t, page)
	wantVar(t, page, "StackSize (FCGI_STACK_SIZE)", "262144 bytes (informational: goroutine stacks grow)")
	g.Console.Expect(t, regexp.MustCompile(`^init: tuning myapp: ok procs=1 stack=256KiB threads=50 spare=1\.\.5 `), time.Second)
	checkOutput(t, "appliance-console", g.Console.String())
	checkOutput(t, "appliance-tuning", g.Console.String())
	if st := get(t, base+"/.status"); st.Status != 200 || !strings.Contains(st.Body, "<td>myapp.0</td>") {
		t.Errorf("status page: %d\n%s", st.Status, st.Body)
	}

	if _, err := exec.LookPath("nginx"); err == nil || os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
		t.Run("nginx-proxy", func(t *testing.T) {
			conf := fill(t, guideBlock(t, "nginx-proxy"), "192.0.2.10:80", strings.TrimPrefix(base, "http://"))
			proxy := startNginx(t, a.site, conf)
			checkProxied(t, proxy, a.site, "10.0.2.2") // the host, as QEMU's user network shows it
		})
	}

	if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
		t.Errorf("mkimage boot exited with %v after power-off", err)
	}
	var lines []string
	for _, l := range strings.Split(g.Console.String(), "\n") {
		if strings.HasPrefix(l, "init: ") || strings.HasPrefix(l, "myapp.0: ") {
			lines = append(lines, l)
		}
	}
	t.Logf("console:\n%s", strings.Join(lines, "\n"))
	for _, bad := range []string{"Kernel panic", "FAILED"} {
		if g.Console.Contains(bad) {
			t.Errorf("console contains %q", bad)
		}
	}
}
