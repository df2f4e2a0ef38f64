package qemutests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
)

// TestBootLocalKernelWithModules boots Debian's kernel, given as a local
// file with its modules directory: virtio networking and the ACPI power
// button are modules there, loaded by init (u-root's kmodule) with their
// dependencies resolved from modules.dep. ./do test unpacks the kernel
// package and sets MKIMAGE_DEBIAN_KERNEL.
func TestBootLocalKernelWithModules(t *testing.T) {
	needQEMU(t)
	root := needEnv(t, "MKIMAGE_DEBIAN_KERNEL")
	kernels, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(kernels) != 1 {
		t.Fatalf("want one kernel in %s/boot, found %v", root, kernels)
	}
	version := strings.TrimPrefix(filepath.Base(kernels[0]), "vmlinuz-")
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	must(t, os.Mkdir(www, 0o755))
	must(t, os.WriteFile(filepath.Join(www, "index.html"), []byte("debian kernel\n"), 0o644))
	cfg := fmt.Sprintf(`hostname = "deb"
[kernel]
path = %q
modules = %q
load = ["virtio_pci", "virtio_net", "button", "evdev"]
[network]
address = "10.0.2.15/24"
[web]
root = "www"
`, kernels[0], filepath.Join(root, "lib", "modules", version))
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	g := tool.Boot(t, filepath.Join(out, "qemu-x86_64"))
	g.Console.Expect(t, regexp.MustCompile(`^init: modules: ok`), qemu.Scaled(120*time.Second))
	g.Console.Expect(t, regexp.MustCompile(`^init: power button: ok`), qemu.Scaled(30*time.Second))
	if got := string(get(t, g.URL, qemu.Scaled(60*time.Second))); got != "debian kernel\n" {
		t.Errorf("GET / = %q", got)
	}
	if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
		t.Fatalf("mkimage boot exited with %v after power-off", err)
	}
	if !g.Console.Contains("init: shutdown: ok (power button)") {
		t.Error("the power button did not reach init")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
