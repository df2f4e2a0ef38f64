package build

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/kernel"
)

// The example appliance's plan, in words, is held in testdata: a change
// to what goes into the image shows up here first (MKIMAGE_UPDATE_DOCS=1
// rewrites it). The plan is complete before the build writes anything.
func TestPlanExample(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// The key the example's [update] trusts by default: a fixed one here.
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	if err := os.MkdirAll(filepath.Join(xdg, "mkimage"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(xdg, "mkimage", "update.pub"), []byte(bundle.FormatPublic(pub, "test")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(src, "examples", "appliance", "appliance.toml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := board.Lookup(cfg.Board)
	if err != nil {
		t.Fatal(err)
	}
	p, err := derive(cfg, b, src)
	if err != nil {
		t.Fatal(err)
	}
	k := kernel.Kernel{Source: "KERNEL", Version: "VERSION"}
	if err := p.addKernel(cfg, b, k); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.describe(&buf, b, k); err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(buf.String(), src, "<src>")
	golden := filepath.Join("testdata", "example-plan.txt")
	if os.Getenv("MKIMAGE_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || string(want) != got {
		t.Errorf("the example's plan changed (MKIMAGE_UPDATE_DOCS=1 rewrites %s):\n%s", golden, got)
	}
}
