package qemutests

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/internal/manifest"
)

// run runs mkimage and returns its combined output and exit code.
func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := tool.Command(args...)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return out.String(), code
}

// The same inputs build byte-identical images; SOURCE_DATE_EPOCH is honoured.
func TestBuildReproducible(t *testing.T) {
	var sums []string
	for i, epoch := range []string{"1700000000", "1700000000", "1"} {
		out := filepath.Join(t.TempDir(), strconv.Itoa(i))
		if msg, code := run(t, []string{"SOURCE_DATE_EPOCH=" + epoch}, "build", "-c", exampleConfig(), "-o", out); code != 0 {
			t.Fatalf("build %d: exit %d\n%s", i, code, msg)
		}
		m, err := manifest.Read(filepath.Join(out, "qemu-x86_64"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Disk == nil {
			t.Fatal("the build wrote no disk image")
		}
		// The disk image holds the initramfs: comparing it covers both.
		sums = append(sums, m.Initramfs.SHA256+" "+m.Disk.SHA256)
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of the same inputs differ: %s vs %s", sums[0], sums[1])
	}
	if sums[0] == sums[2] {
		t.Errorf("SOURCE_DATE_EPOCH did not change the initramfs")
	}
	checkRebuild(t, sums[0])
}

// checkRebuild: builds of the example into one directory, with nothing
// changed, keep the disk image, unless it was written to since (as a boot
// in place does); every time the files are the ones a build without the
// build cache makes (want: the initramfs and disk hashes).
func checkRebuild(t *testing.T, want string) {
	out := filepath.Join(t.TempDir(), "out")
	img := filepath.Join(out, "qemu-x86_64")
	for i, step := range []struct {
		env  []string
		say  string
		edit func()
	}{
		{[]string{"MKIMAGE_BUILD_CACHE=off"}, "disk.img written", nil},
		{nil, "disk.img unchanged, kept from the last build", nil},
		{nil, "disk.img written", func() {
			f, err := os.OpenFile(filepath.Join(img, "disk.img"), os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteAt([]byte("booted"), 230<<20) // the data partition
			must(t, errors.Join(err, f.Close()))
		}},
	} {
		if step.edit != nil {
			step.edit()
		}
		msg, code := run(t, append(step.env, "SOURCE_DATE_EPOCH=1700000000"), "build", "-c", exampleConfig(), "-o", out)
		if code != 0 || !strings.Contains(msg, step.say) {
			t.Fatalf("rebuild %d: exit %d, want %q:\n%s", i, code, step.say, msg)
		}
		m, err := manifest.Read(img)
		must(t, err)
		data, err := os.ReadFile(filepath.Join(img, "disk.img"))
		must(t, err)
		if got := m.Initramfs.SHA256 + " " + m.Disk.SHA256; got != want || fmt.Sprintf("%x", sha256.Sum256(data)) != m.Disk.SHA256 {
			t.Errorf("rebuild %d: %s, disk.img's bytes %x; want %s", i, got, sha256.Sum256(data), want)
		}
	}
}

// mkimage init writes a starter that builds as it is.
func TestInitBuilds(t *testing.T) {
	dir := t.TempDir()
	if msg, code := run(t, nil, "init", "-o", dir); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, msg)
	}
	if msg, code := run(t, nil, "init", "-o", dir); code == 0 || !strings.Contains(msg, "exists") {
		t.Errorf("second init should refuse to overwrite: exit %d\n%s", code, msg)
	}
	out := filepath.Join(dir, "out")
	msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out)
	if code != 0 {
		t.Fatalf("building the starter: exit %d\n%s", code, msg)
	}
	if !strings.Contains(msg, "built    qemu-x86_64") {
		t.Errorf("no summary line:\n%s", msg)
	}
}

// Bad input gives one clear line, a non-zero exit, and no output directory.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Mkdir(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := strconv.Itoa(held.Addr().(*net.TCPAddr).Port)
	good := write("good.toml", "[web]\nroot = \"www\"\n")
	goodOut := filepath.Join(dir, "goodout")
	if msg, code := run(t, nil, "build", "-c", good, "-o", goodOut); code != 0 {
		t.Fatalf("good config failed: %s", msg)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing config", []string{"build", "-c", filepath.Join(dir, "nope.toml")}, "nope.toml"},
		{"malformed config", []string{"build", "-c", write("bad.toml", "[web\n")}, "bad.toml:1:"},
		{"unknown board", []string{"build", "-c", write("board.toml", "board = \"vax\"\n[web]\nroot = \"www\"\n")}, `board.toml:1:1: board: unknown board "vax"`},
		{"missing kernel", []string{"build", "-c", write("kernel.toml", "[kernel]\npath = \"vmlinuz\"\n[web]\nroot = \"www\"\n")}, "kernel.toml:2:1: kernel.path"},
		{"missing web root", []string{"build", "-c", write("root.toml", "[web]\nroot = \"public\"\n")}, "root.toml:2:1: web.root"},
		{"port in use", []string{"boot", "-port", busy, filepath.Join(goodOut, "qemu-x86_64")}, "port " + busy + " on 127.0.0.1 is in use"},
		{"not an image", []string{"boot", dir}, "manifest"},
		{"bad disk size", []string{"boot", "-boot", "bios", "-disk-size", "1.5G", filepath.Join(goodOut, "qemu-x86_64")}, `-disk-size: "1.5G" is not a disk size`},
		{"zero disk size", []string{"boot", "-boot", "bios", "-disk-size", "0", filepath.Join(goodOut, "qemu-x86_64")}, `-disk-size: "0" is not a disk size`},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tt.name, " ", "-"))
			args := tt.args
			if args[0] == "build" {
				args = append(args, "-o", out)
			}
			msg, code := run(t, nil, args...)
			if code == 0 {
				t.Fatalf("exit 0, want failure:\n%s", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, msg)
			}
			if args[0] == "build" {
				if lines := strings.Count(strings.TrimSpace(msg), "\n") + 1; lines > 2 {
					t.Errorf("want one clear line, got %d:\n%s", lines, msg)
				}
				if entries, _ := os.ReadDir(out); len(entries) > 0 {
					t.Errorf("failed build left %d entries in %s", len(entries), out)
				}
			}
		})
	}
}

func TestBoardsAndVersion(t *testing.T) {
	msg, code := run(t, nil, "boards")
	if code != 0 || !strings.Contains(msg, "qemu-x86_64") || !strings.Contains(msg, "github.com/gokrazy/kernel.amd64") {
		t.Errorf("boards: exit %d\n%s", code, msg)
	}
	if msg, code := run(t, nil, "version"); code != 0 || !strings.HasPrefix(msg, "mkimage ") {
		t.Errorf("version: exit %d %q", code, msg)
	}
	if msg, code := run(t, nil); code != 2 || !strings.Contains(msg, "Usage:") {
		t.Errorf("no command: exit %d %q", code, msg)
	}
}

// A relative output directory is relative to where mkimage runs, not to
// the source tree the guest programs are built in.
func TestRelativeOutput(t *testing.T) {
	dir := t.TempDir()
	if msg, code := run(t, nil, "init", "-o", dir); code != 0 {
		t.Fatalf("init: %s", msg)
	}
	cmd := tool.Command("build", "-c", "appliance.toml", "-o", "out")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build with -o out in %s: %v\n%s", dir, err, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "qemu-x86_64", "manifest.json")); err != nil {
		t.Fatal(err)
	}
}
