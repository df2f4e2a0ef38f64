package build

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/fcgiserver/python"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// A python app's plan: the pool runs Debian's python3 with the WSGI
// server on module:callable, the server goes into the image once, the
// app's code to /app/NAME (APP_DIR), python3 is among the packages and
// must install /usr/bin/python3; configured env wins over the defaults.
func TestPlanPythonApp(t *testing.T) {
	cfg, dir := testConfig(t, `board = "qemu-x86_64"
[web]
root = "www"
[[app]]
name = "shop"
prefix = "/"
python = "app:application"
code = "www/img"
debian = ["python3-flask"]
env = { LANG = "C.UTF-8" }
[[app]]
name = "admin"
prefix = "/admin"
python = "admin:app"
`)
	b, err := board.Lookup("qemu-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	p, err := derive(cfg, b, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.init.Pools) != 2 {
		t.Fatalf("pools %+v", p.init.Pools)
	}
	shop := p.init.Pools[0]
	if shop.Path != "/usr/bin/python3" || !slices.Equal(shop.Args, []string{spec.WSGIServerPath, "app:application"}) {
		t.Errorf("shop runs %s %q", shop.Path, shop.Args)
	}
	want := []string{"APP_DIR=/app/shop", "LANG=C", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
		"PYTHON_EGG_CACHE=/data/apps/shop/.python-eggs", "LANG=C.UTF-8"}
	if !slices.Equal(shop.Env, want) {
		t.Errorf("shop's env %q, want %q (the configured LANG last, so it wins)", shop.Env, want)
	}
	if slices.ContainsFunc(p.init.Pools[1].Env, func(e string) bool { return e == "APP_DIR=/app/admin" }) {
		t.Error("an app without code got APP_DIR")
	}
	var servers int
	for _, f := range p.files {
		if f.Target == spec.WSGIServerPath && bytes.Equal(f.Data, python.Server) && f.Mode == 0o644 {
			servers++
		}
	}
	if servers != 1 || len(python.Server) < 1000 {
		t.Errorf("%d copies of the WSGI server (%d bytes) in the plan", servers, len(python.Server))
	}
	if !slices.ContainsFunc(p.trees, func(tr rootfs.Tree) bool {
		return tr.Source == filepath.Join(dir, "www/img") && tr.Target == "/app/shop"
	}) {
		t.Errorf("trees %+v: want the code at /app/shop", p.trees)
	}
	if got := p.debian.names; !slices.Equal(got, []string{"python3-flask", "python3"}) {
		t.Errorf("debian packages %q", got)
	}
	if p.debian.programs["app.0.python"] != "/usr/bin/python3" || p.debian.programs["app.1.python"] != "/usr/bin/python3" {
		t.Errorf("programs checked in the packages: %v", p.debian.programs)
	}
}

// /init leaves the ACME client out unless the config asks for ACME.
func TestGuestTags(t *testing.T) {
	for _, c := range []struct {
		tls  string
		tags []string
	}{
		{"", []string{"noacme"}},
		{"[web.tls]\nacme = true\ndomains = [\"example.org\"]\n", nil},
	} {
		cfg, dir := testConfig(t, "board = \"qemu-x86_64\"\n[web]\nroot = \"www\"\n"+c.tls)
		b, err := board.Lookup("qemu-x86_64")
		if err != nil {
			t.Fatal(err)
		}
		p, err := derive(cfg, b, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.programs[0].Tags; !slices.Equal(got, c.tags) {
			t.Errorf("config %q: /init built with tags %q, want %q", c.tls, got, c.tags)
		}
	}
}
