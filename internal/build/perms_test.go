package build

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/rootfs"
)

// The image's secrets get their owners without the user asking: init's
// spec is root's alone, the TLS key the front end's; the user's
// [[permissions]] follow, with owners mapped to the guest's users.
func TestDerivePerms(t *testing.T) {
	cfg, dir := testConfig(t, `[web]
root = "www"
tls_dir = "tls"
spool_bytes = 2000000
[web.fastcgi]
max_header_bytes = 4096
[[app]]
name = "shop"
prefix = "/"
program = "./www"
[[app]]
name = "blog"
prefix = "/blog"
program = "./www"
[[permissions]]
path = "/etc/blog"
owner = "blog"
[[permissions]]
path = "/etc/shop"
owner = "shop"
mode = "0640"
[[permissions]]
path = "/srv/www/drafts"
owner = "httpfront"
`)
	want := []rootfs.Perm{
		{Path: "/etc/mkimage/init.json", Mode: 0o600},
		{Path: "/etc/mkimage/front.json", GID: 33, Mode: 0o640},
		{Path: "/etc/mkimage/tls", UID: 33, GID: 33, Mode: 0o600},
		{Path: "/etc/blog", UID: 1001, GID: 1001},
		{Path: "/etc/shop", UID: 1000, GID: 1000, Mode: 0o640},
		{Path: "/srv/www/drafts", UID: 33, GID: 33},
	}
	pl, err := derive(cfg, board.Board{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pl.perms, want) {
		t.Errorf("perms\n got %+v\nwant %+v", pl.perms, want)
	}
	if pl.front.SpoolBytes != 2000000 || pl.front.FastCGI.MaxHeaderBytes != 4096 {
		t.Errorf("spool_bytes %d, fastcgi max_header_bytes %d: the bounds did not reach the spec", pl.front.SpoolBytes, pl.front.FastCGI.MaxHeaderBytes)
	}
	// Each app has its own user and its own directory on /data.
	for i, name := range []string{"shop", "blog"} {
		pool := pl.init.Pools[i]
		if pool.Name != name || pool.UID != 1000+i || pool.DataDir != "/data/apps/"+name {
			t.Errorf("pool %d: %s uid %d data %s", i, pool.Name, pool.UID, pool.DataDir)
		}
	}
}

// testConfig loads body as appliance.toml in a directory with www/img and
// a tls/ holding cert.pem and key.pem, and returns it and the directory.
func testConfig(t *testing.T, body string, files ...string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(files); i += 2 { // name, content pairs
		os.WriteFile(filepath.Join(dir, files[i]), []byte(files[i+1]), 0o644)
	}
	for _, d := range []string{"www/img", "tls"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	cert, key := makeCert(t, validFor("appliance"))
	writeCert(t, filepath.Join(dir, "tls"), cert, key)
	p := filepath.Join(dir, "appliance.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}
