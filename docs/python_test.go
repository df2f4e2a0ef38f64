package docs_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/spec"
)

// pythonSite is a site holding the python starter (`mkimage init --app
// python`: shop/app.py, www/, mkimage_wsgi.py) and the guide's block id
// as appliance.toml.
func pythonSite(t *testing.T, id string) *site {
	t.Helper()
	s := newSite(t)
	if out, err := mkimage(t).Command("init", "--app", "python", "-o", s.Dir).CombinedOutput(); err != nil {
		t.Fatalf("mkimage init --app python: %v\n%s", err, out)
	}
	write(t, filepath.Join(s.Dir, "appliance.toml"), guideBlock(t, id))
	return s
}

// The guide's python appliance builds: the pool runs Debian's python3
// with mkimage_wsgi on app:application with flup's knobs, and the image
// holds the server, Flask from Debian and the app's code.
func TestPythonAppliance(t *testing.T) {
	s := pythonSite(t, "python-appliance")
	out := filepath.Join(s.Dir, "out")
	cmd := mkimage(t).Command("build", "-c", filepath.Join(s.Dir, "appliance.toml"), "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage build: %v\n%s", err, b)
	}
	files := readInitramfs(t, filepath.Join(out, "qemu-x86_64", "initramfs.cpio.zst"), spec.InitPath, spec.WSGIServerPath,
		"/usr/lib/python3/dist-packages/flask/__init__.py", "/app/shop/app.py")
	var in spec.Init
	if err := json.Unmarshal(files[spec.InitPath], &in); err != nil {
		t.Fatal(err)
	}
	if len(in.Pools) != 1 {
		t.Fatalf("pools %+v", in.Pools)
	}
	p := in.Pools[0]
	if p.Path != spec.PythonPath || !slices.Equal(p.Args, []string{spec.WSGIServerPath, "app:application"}) ||
		p.MinSpare != 1 || p.MaxSpare != 5 || p.MaxThreads != 50 || !slices.Contains(p.Env, "LANG=C") {
		t.Errorf("pool %+v", p)
	}
	for _, f := range []string{spec.WSGIServerPath, "/usr/lib/python3/dist-packages/flask/__init__.py", "/app/shop/app.py"} {
		if len(files[f]) == 0 {
			t.Errorf("the image lacks %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "appliance.lock")); err != nil {
		t.Errorf("no appliance.lock: %v", err)
	}
}

// The guide's lighttpd block runs the same app with the same server on
// the host, as the seed ran its app.
func TestPythonLighttpd(t *testing.T) {
	if err := exec.Command("python3", "-c", "import flask").Run(); err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
			t.Fatalf("python3 with Flask is required (MKIMAGE_REQUIRE_PEERS=1): %v", err)
		}
		t.Skip("no python3-flask here")
	}
	s := pythonSite(t, "python-appliance")
	data := filepath.Join(s.Dir, "data")
	if err := os.Mkdir(data, 0o777); err != nil {
		t.Fatal(err)
	}
	conf := fill(t, guideBlock(t, "python-lighttpd"),
		"/srv/shop/mkimage_wsgi.py", filepath.Join(s.Dir, "mkimage_wsgi.py"),
		"/srv/shop/shop", filepath.Join(s.Dir, "shop"),
		"/var/lib/shop", data,
		"/run/lighttpd/shop.sock", filepath.Join(s.Dir, "shop.sock"))
	base := startLighttpd(t, s, "50-shop", conf)
	if r := get(t, base+"/"); r.Status != 200 || !strings.Contains(r.Body, "<h1>The shop</h1>") {
		t.Errorf("GET /: %d %q", r.Status, r.Body)
	}
	if r := fetch(t, "POST", base+"/api/notes", strings.NewReader(`{"body":"on the host"}`), "Content-Type", "application/json"); r.Status != 201 {
		t.Errorf("POST /api/notes: %d %q", r.Status, r.Body)
	}
	if r := get(t, base+"/api/notes"); !strings.Contains(r.Body, "on the host") {
		t.Errorf("GET /api/notes: %q", r.Body)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(get(t, base+"/env").Body), &env); err != nil {
		t.Fatal(err)
	}
	if env["SCRIPT_NAME"] != "" || env["PATH_INFO"] != "/env" || !strings.HasPrefix(env["SERVER_SOFTWARE"], "lighttpd/") || env["DATA_DIR"] != data {
		t.Errorf("environ %v", env)
	}
}
