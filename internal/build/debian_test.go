package build

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/debian"
	"github.com/mkimage/mkimage/internal/imagetest"
	"github.com/mkimage/mkimage/spec"
)

// debianConfig asks for lz4 for the image and makes it an app's program.
const debianConfig = `debian = ["liblz4-1"]
[kernel]
path = "KERNEL"
[web]
root = "www"
[[app]]
name = "pack"
prefix = "/"
program = "/usr/bin/lz4"
debian = ["lz4"]
`

// needMirror skips the test when apt cannot reach a Debian mirror, unless
// MKIMAGE_REQUIRE_PEERS=1 says the mirror must be there.
func needMirror(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fetches Debian packages")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := debian.Reachable(ctx, t.TempDir()); err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
			t.Fatalf("no Debian mirror reachable: %v", err)
		}
		t.Skipf("no Debian mirror reachable: %v", err)
	}
}

// An image with debian packages holds their files (and not their
// documentation) in its initramfs, runs the app's program from them,
// lists them with their sizes in the manifest and writes appliance.lock;
// the dry run names them and their locked versions.
func TestBuildDebian(t *testing.T) {
	needMirror(t)
	cfg, dir := testConfig(t, withKernel(t, debianConfig))
	var progress bytes.Buffer
	m, out, err := Run(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "out"), NoDisk: true, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())
	files := initramfsFiles(t, filepath.Join(out, InitramfsFile))
	for _, want := range []string{"usr/bin/lz4", "lib/x86_64-linux-gnu/libc.so.6", "lib64/ld-linux-x86-64.so.2", "init", "bin/httpfront"} {
		if _, ok := files[want]; !ok {
			t.Errorf("the initramfs has no /%s", want)
		}
	}
	for name := range files {
		if strings.HasPrefix(name, "usr/share/doc/") {
			t.Errorf("the initramfs has /%s", name)
		}
	}
	var init spec.Init
	if err := json.Unmarshal(files[strings.TrimPrefix(spec.InitPath, "/")], &init); err != nil {
		t.Fatal(err)
	}
	if len(init.Pools) != 1 || init.Pools[0].Path != "/usr/bin/lz4" {
		t.Errorf("pools %+v, want pack running /usr/bin/lz4", init.Pools)
	}
	got := map[string]int64{}
	for _, p := range m.Debian {
		got[p.Name] = p.Bytes
	}
	if len(m.Debian) < 3 || got["lz4"] <= 0 || got["libc6"] <= 0 {
		t.Errorf("manifest's debian: %+v", m.Debian)
	}
	lock, err := debian.ReadLock(filepath.Join(dir, debian.LockName))
	if err != nil || len(lock.For("amd64")) != len(m.Debian) {
		t.Errorf("appliance.lock: %+v, %v", lock, err)
	}
	t.Logf("manifest debian: %+v", m.Debian)
	var dry bytes.Buffer
	if _, _, err := Run(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "out"), DryRun: true, Progress: &dry}); err != nil {
		t.Fatal(err)
	}
	t.Logf("dry run:\n%s", dry.String())
	if !strings.Contains(dry.String(), "debian    lz4") || !strings.Contains(dry.String(), "locked in") {
		t.Errorf("the dry run does not list the packages:\n%s", dry.String())
	}
}

// An app's program that its packages do not install is an error at the
// program's key.
func TestBuildDebianProgramMissing(t *testing.T) {
	needMirror(t)
	cfg, dir := testConfig(t, withKernel(t, strings.Replace(debianConfig, "/usr/bin/lz4", "/usr/bin/nope", 1)))
	_, _, err := Run(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "out"), NoDisk: true})
	if err == nil || !strings.Contains(err.Error(), "app.0.program") || !strings.Contains(err.Error(), "/usr/bin/nope") {
		t.Errorf("got %v", err)
	}
}

// withKernel points the config's kernel.path at a file: the build only
// copies it.
func withKernel(t *testing.T, body string) string {
	k := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(k, []byte("not a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(body, "KERNEL", k, 1)
}

// initramfsFiles reads a zstd-compressed cpio: name (no leading /) ->
// content.
func initramfsFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, data := range imagetest.Initramfs(t, path) {
		out[strings.TrimPrefix(name, "/")] = data
	}
	return out
}
