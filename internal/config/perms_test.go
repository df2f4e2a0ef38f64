package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const appHead = "[web]\nroot = \"www\"\n[[app]]\nname = \"shop\"\nprefix = \"/a\"\nprogram = \"x\"\n"

// Each config crosses into the guest as something that would break or
// weaken it at run time; it must fail at build time, at its key.
func TestHostileConfig(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"app named httpfront", strings.Replace(appHead, `"shop"`, `"httpfront"`, 1), []string{":4:1:", "app.0.name", "reserved"}},
		{"app named modload", strings.Replace(appHead, `"shop"`, `"modload"`, 1), []string{"app.0.name", "reserved"}},
		{"app named updated", strings.Replace(appHead, `"shop"`, `"updated"`, 1), []string{"app.0.name", "reserved"}},
		{"app named init", strings.Replace(appHead, `"shop"`, `"init"`, 1), []string{"app.0.name", "reserved"}},
		{"NUL in arg", appHead + "args = [\"a\\u0000b\"]\n", []string{":7:1:", "app.0.args", "NUL"}},
		{"NUL in env", appHead + "env = { A = \"x\\u0000\" }\n", []string{":7:1:", "app.0.env", "NUL"}},
		{"NUL in program", strings.Replace(appHead, `"x"`, `"x\u0000"`, 1), []string{"app.0.program", "NUL"}},
		{"newline in cmdline", "[kernel]\ncmdline = \"a\\nb\"\n[web]\nroot = \"www\"\n", []string{":2:1:", "kernel.cmdline"}},
		{"NUL in index", "[web]\nroot = \"www\"\nindex = [\"a\\u0000\"]\n", []string{":3:1:", "web.index"}},
		{"control in prefix", "[web]\nroot = \"www\"\n[[web.cache_control]]\nprefix = \"/a\\u0001\"\nvalue = \"x\"\n", []string{"web.cache_control.0.prefix"}},
		{"sub-ms timeout", "[web]\nroot = \"www\"\nidle_timeout = \"500us\"\n", []string{":3:1:", "web.idle_timeout", "whole milliseconds"}},
		{"fractional ms", "[web]\nroot = \"www\"\nwrite_timeout = \"1.5ms\"\n", []string{"web.write_timeout", "whole milliseconds"}},
		{"sub-ms fastcgi", "[web]\nroot = \"www\"\n[web.fastcgi]\nconnect_timeout = \"999ns\"\n", []string{"web.fastcgi.connect_timeout"}},
		{"sub-ms request timeout", appHead + "request_timeout = \"10us\"\n", []string{":7:1:", "app.0.request_timeout"}},
		{"file over the tool", appHead + "files = [\"/bin/httpfront\"]\n", []string{":7:1:", "app.0.files", "tool's own"}},
		{"file over the spec", appHead + "files = [\"/etc\"]\n", []string{"app.0.files", "/etc/mkimage"}},
		{"file under a mount", appHead + "files = [\"/tmp/x\"]\n", []string{"app.0.files", "mounts over"}},
		{"perm on the key dir", "[web]\nroot = \"www\"\n[[permissions]]\npath = \"/etc/mkimage/tls\"\nmode = \"0644\"\n", []string{":4:1:", "permissions.0.path", "fixed"}},
		{"perm relative", "[web]\nroot = \"www\"\n[[permissions]]\npath = \"etc/x\"\nmode = \"0644\"\n", []string{"permissions.0.path"}},
		{"perm unknown owner", appHead + "[[permissions]]\npath = \"/etc/shop\"\nowner = \"bob\"\n", []string{":9:1:", "permissions.0.owner"}},
		{"perm setuid", appHead + "[[permissions]]\npath = \"/etc/shop\"\nmode = \"4755\"\n", []string{"permissions.0.mode", "setuid"}},
		{"spool too small", "[web]\nroot = \"www\"\nspool_bytes = 1000\n", []string{":3:1:", "web.spool_bytes"}},
		{"app header bound", appHead + "[app.fastcgi]\nmax_header_bytes = 10\n", []string{"app.0.fastcgi.max_header_bytes"}},
		{"perm nothing", appHead + "[[permissions]]\npath = \"/etc/shop\"\n", []string{"permissions.0", "owner, mode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.body)
			_, err := Load(p)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append([]string{p}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPermissionsGood(t *testing.T) {
	c, err := Load(writeConfig(t, appHead+"[[permissions]]\npath = \"/etc/shop\"\nowner = \"shop\"\nmode = \"0640\"\n"+
		"[[permissions]]\npath = \"/srv/www/private\"\nowner = \"httpfront\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Permissions) != 2 || c.Permissions[0].Owner != "shop" {
		t.Fatalf("permissions = %+v", c.Permissions)
	}
	if m, err := ParseMode(c.Permissions[0].Mode); err != nil || m != 0o640 {
		t.Errorf("mode = %o, %v", m, err)
	}
}

// A file with several mistakes reports all of them in one run, in the
// order of the file (they used to come one fix at a time).
func TestAllErrorsInFileOrder(t *testing.T) {
	p := writeConfig(t, `hostname = "a_b"
[network]
dhcp = true
mtu = 100
[web]
root = "www"
access_log = "loud"
idle_timeout = "500us"
[[app]]
name = "httpfront"
prefix = "/a/"
program = "x"
procs = 0
env = { "A-B" = "1" }
[[permissions]]
path = "etc/x"
mode = "9"
`)
	_, err := Load(p)
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{":1:1: hostname", ":4:1: network.mtu", ":7:1: web.access_log", ":8:1: web.idle_timeout",
		":10:1: app.0.name", ":11:1: app.0.prefix", ":13:1: app.0.procs", ":14:1: app.0.env",
		":16:1: permissions.0.path", ":17:1: permissions.0.mode"}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("error %d: %q, want %q", i+1, lines[i], w)
		}
	}
}

// A file with one mistake in every section gets every one of them reported
// in one run, in file order; the golden file holds the whole message
// (MKIMAGE_UPDATE_DOCS=1 rewrites it).
func TestEverySectionOneRun(t *testing.T) {
	const in, golden = "testdata/every-section.toml", "testdata/every-section.err"
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	p := writeConfig(t, string(data))
	dir := filepath.Dir(p)
	_, err = Load(p)
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.ReplaceAll(err.Error(), dir, "DIR") + "\n"
	if os.Getenv("MKIMAGE_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, rerr := os.ReadFile(golden)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if got != string(want) {
		t.Errorf("Load(%s) =\n%s\nwant (%s)\n%s", in, got, golden, want)
	}
}
