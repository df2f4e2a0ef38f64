package qemutests

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
)

// TestBootIn64MiB boots the example appliance in 64 MiB of RAM with the
// small kernel built by internal/kernel/tiny/build.sh (./do test builds it and sets
// MKIMAGE_TINY_KERNEL): static files and the app answer, and the power
// button powers it off.
func TestBootIn64MiB(t *testing.T) {
	needQEMU(t)
	kernel := needEnv(t, "MKIMAGE_TINY_KERNEL")
	dir := t.TempDir()
	example, err := os.ReadFile(exampleConfig())
	must(t, err)
	cfg := append(bytes.ReplaceAll(example, []byte(`root = "www"`), []byte(`root = "`+filepath.Join(tool.Src, "examples", "appliance", "www")+`"`)),
		[]byte("\n[kernel]\npath = \""+kernel+"\"\n")...)
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), cfg, 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, nil, "build", "-no-disk", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	g := tool.Boot(t, "-m=64", filepath.Join(out, "qemu-x86_64"))
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(60*time.Second))
	want, err := os.ReadFile(filepath.Join(tool.Src, "examples", "appliance", "www", "images", "noise.bin"))
	must(t, err)
	if got := get(t, g.URL+"images/noise.bin", qemu.Scaled(30*time.Second)); !bytes.Equal(got, want) {
		t.Errorf("static file: %d bytes, want %d", len(got), len(want))
	}
	if got := string(get(t, g.URL+"app/hello", qemu.Scaled(30*time.Second))); got != "hello\n" {
		t.Errorf("GET /app/hello = %q", got)
	}
	if err := g.PowerOff(qemu.Scaled(30 * time.Second)); err != nil {
		t.Fatalf("power-off: %v", err)
	}
	if !g.Console.Contains("init: shutdown: ok (power button)") {
		t.Error("the power button did not reach init")
	}
}
