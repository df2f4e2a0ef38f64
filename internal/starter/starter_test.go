package starter_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mkimage/mkimage"
	"github.com/mkimage/mkimage/examples"
	"github.com/mkimage/mkimage/fcgiserver/python"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/guestsrc"
	"github.com/mkimage/mkimage/internal/starter"
)

// goEnv unpacks the guest sources into a temporary cache, as an installed
// mkimage would.
func goEnv(t *testing.T) (guestsrc.Tree, []string) {
	t.Helper()
	tr, err := guestsrc.Unpack(mkimage.GuestSource, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env, err := tr.GoEnv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tr, env
}

// Every starter writes a config that loads without an error, and refuses
// to overwrite what is there unless forced.
func TestStartersLoad(t *testing.T) {
	tr, env := goEnv(t)
	for _, k := range examples.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			if k.Name == "php" {
				if _, err := exec.LookPath("php-cgi"); err != nil {
					t.Skip("php-cgi not installed")
				}
			}
			o := starter.Options{Dir: t.TempDir(), Kind: k.Name, Module: "example.com/app", Tree: tr, GoEnv: env}
			written, err := starter.Write(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load(filepath.Join(o.Dir, "appliance.toml")); err != nil {
				t.Errorf("the %s starter's config: %v", k.Name, err)
			}
			if _, err := starter.Write(context.Background(), o); err == nil || !strings.Contains(err.Error(), "exists (use -f") {
				t.Errorf("second write: %v, want a refusal", err)
			}
			o.Force = true
			again, err := starter.Write(context.Background(), o)
			if err != nil || len(again) != len(written) {
				t.Errorf("forced write: %d files, %v; first wrote %d", len(again), err, len(written))
			}
		})
	}
}

// The Go starter is a module of its own that requires this tool's module
// at the version the binary serves, and builds and tests with the plain go
// command afterwards (the module cache holds what init fetched).
func TestGoStarterModule(t *testing.T) {
	tr, env := goEnv(t)
	dir := t.TempDir()
	if _, err := starter.Write(context.Background(), starter.Options{Dir: dir, Kind: "go", Module: "example.org/shop", Tree: tr, GoEnv: env}); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "app", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module example.org/shop\n", "require " + guestsrc.Module + " " + tr.Version + "\n"} {
		if !strings.Contains(string(mod), want) {
			t.Errorf("go.mod lacks %q:\n%s", want, mod)
		}
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "app", "go.sum"))
	if lines := strings.Count(string(sum), "\n"); lines != 2 || !strings.Contains(string(sum), tr.Version+" h1:") {
		t.Errorf("go.sum after tidy (%d lines):\n%s", lines, sum)
	}
	for _, args := range [][]string{{"vet", "./..."}, {"test", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = filepath.Join(dir, "app")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s in the app: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestUnknownKind(t *testing.T) {
	_, err := starter.Write(context.Background(), starter.Options{Dir: t.TempDir(), Kind: "perl"})
	if err == nil || !strings.Contains(err.Error(), `unknown starter "perl"`) {
		t.Errorf("err = %v", err)
	}
}

// The python starter carries the WSGI server the image runs (to run the
// same app on a host) and an app Python compiles.
func TestPythonStarter(t *testing.T) {
	dir := t.TempDir()
	if _, err := starter.Write(context.Background(), starter.Options{Dir: dir, Kind: "python"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "mkimage_wsgi.py"))
	if err != nil || !bytes.Equal(got, python.Server) {
		t.Errorf("mkimage_wsgi.py: %d bytes (%v), want the server's %d", len(got), err, len(python.Server))
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 here to compile the app with")
	}
	for _, f := range []string{"shop/app.py", "mkimage_wsgi.py"} {
		cmd := exec.Command(py, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", filepath.Join(dir, f))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v\n%s", f, err, out)
		}
	}
}
