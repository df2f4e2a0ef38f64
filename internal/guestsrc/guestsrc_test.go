package guestsrc_test

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/mkimage/mkimage"
	"github.com/mkimage/mkimage/internal/build"
	"github.com/mkimage/mkimage/internal/guestsrc"
)

// imported are the packages a guest program or a user's app imports: the
// tool's guest programs and the library apps build on.
func imported() []string {
	return append(build.GuestPackages(), "./examples/fcgiapp", "./fcgiserver")
}

var embedLine = regexp.MustCompile(`(?m)^//go:embed .*\n`)

// The embedded tree is every package of this module that a guest program
// or an app's imports (and their tests, which go mod tidy reads) need, for
// every architecture: the list in guestsource.go is what go list says.
// MKIMAGE_UPDATE_DOCS=1 rewrites it.
func TestEmbedList(t *testing.T) {
	dirs := map[string]bool{}
	for _, arch := range []string{"amd64", "arm64"} {
		args := append([]string{"list", "-deps", "-test", "-f",
			`{{with .Module}}{{if eq .Path "` + guestsrc.Module + `"}}{{$.Dir}}{{end}}{{end}}`}, imported()...)
		cmd := exec.Command("go", args...)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		root, _ := filepath.Abs("../..")
		for _, d := range strings.Fields(string(out)) {
			if rel, err := filepath.Rel(root, d); err == nil && rel != "." {
				dirs[filepath.ToSlash(rel)] = true
			}
		}
	}
	want := "//go:embed go.mod go.sum\n"
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		want += "//go:embed " + d + "/*.go\n"
	}
	src, err := os.ReadFile("../../guestsource.go")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(embedLine.FindAllString(string(src), -1), "")
	if got == want {
		return
	}
	if os.Getenv("MKIMAGE_UPDATE_DOCS") == "1" {
		i := embedLine.FindIndex(src)
		rest := embedLine.ReplaceAll(src[i[0]:], nil)
		out := append(append(slices.Clone(src[:i[0]]), want...), rest...)
		if err := os.WriteFile("../../guestsource.go", out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("guestsource.go embeds\n%s\nwant\n%s(MKIMAGE_UPDATE_DOCS=1 go test ./internal/guestsrc rewrites it)", got, want)
}

// Unpacking writes the tree once, read-only, and serves it as a module
// version the go command accepts.
func TestUnpack(t *testing.T) {
	root := t.TempDir()
	tr, err := guestsrc.Unpack(mkimage.GuestSource, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := module.Check(guestsrc.Module, tr.Version); err != nil {
		t.Errorf("version %s: %v", tr.Version, err)
	}
	if !strings.HasPrefix(tr.Version, "v"+mkimage.Version+".g"+tr.Sum[:12]) {
		t.Errorf("version %s does not name %s and the sum %s", tr.Version, mkimage.Version, tr.Sum)
	}
	want, _ := fs.ReadFile(mkimage.GuestSource, "fcgiserver/doc.go")
	got, err := os.ReadFile(filepath.Join(tr.Dir, "fcgiserver", "doc.go"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("unpacked fcgiserver/doc.go: %v", err)
	}
	if st, err := os.Stat(filepath.Join(tr.Dir, "go.mod")); err != nil || st.Mode().Perm() != 0o444 {
		t.Errorf("go.mod: %v %v, want read-only", st, err)
	}
	again, err := guestsrc.Unpack(mkimage.GuestSource, root)
	if err != nil || again != tr {
		t.Errorf("second unpack: %+v %v, want %+v", again, err, tr)
	}
	for _, ext := range []string{".info", ".mod", ".zip"} {
		p := filepath.Join(tr.ProxyDir, "github.com/mkimage/mkimage/@v", tr.Version+ext)
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the proxy lacks %s: %v", p, err)
		}
	}
	list, _ := os.ReadFile(filepath.Join(tr.ProxyDir, "github.com/mkimage/mkimage/@v/list"))
	if string(list) != tr.Version+"\n" {
		t.Errorf("@v/list = %q", list)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "src"))
	if len(entries) != 1 {
		t.Errorf("src holds %d entries, want the one tree", len(entries))
	}
}

func TestModuleVersion(t *testing.T) {
	sum := "0123456789abcdef"
	for _, c := range []struct{ v, want string }{
		{"0.1.0-dev", "v0.1.0-dev.g0123456789ab"},
		{"0.2.0", "v0.2.0"},
	} {
		if got := guestsrc.ModuleVersion(c.v, sum); got != c.want {
			t.Errorf("ModuleVersion(%q) = %q, want %q", c.v, got, c.want)
		}
	}
}
