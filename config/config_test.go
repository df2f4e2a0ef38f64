package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a config and a www directory into a temp dir.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "www", "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "appliance.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const good = `board = "qemu-x86_64"
hostname = "box"

[network]
address = "10.0.2.15/24"
gateway = "10.0.2.2"
dns = ["10.0.2.3"]

[web]
root = "www"

[[web.alias]]
prefix = "/images"
dir = "www/img"

[[app]]
name = "shop"
prefix = "/shop"
program = "./www"
procs = 2
env = { PYTHON_EGG_CACHE = "/tmp/eggs" }
copy_env = ["PATH"]
`

func TestLoadGood(t *testing.T) {
	c, err := Load(writeConfig(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "box" || c.Network.DHCP || len(c.Apps) != 1 || len(c.Web.Aliases) != 1 {
		t.Fatalf("decoded wrongly: %+v", c)
	}
	if n, _ := c.Apps[0].ProcCount(); n != 2 {
		t.Errorf("procs = %d, want 2", n)
	}
	if c.Apps[0].Env["LANG"] != "C" {
		t.Errorf("LANG default missing: %v", c.Apps[0].Env)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(writeConfig(t, "[web]\nroot = \"www\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Board != "qemu-x86_64" || c.Hostname != "appliance" || !c.Network.DHCP || c.Web.Index[0] != "index.html" {
		t.Fatalf("defaults wrong: %+v", c)
	}
}

// Each bad config must fail with file:line:col, the key and a hint.
func TestLoadBad(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // substrings of the error
	}{
		{"unknown top key", "hostnme = \"x\"\n[web]\nroot = \"www\"\n", []string{":1:1:", `"hostnme"`}},
		{"unknown nested key", "[web]\nroot = \"www\"\n[network]\nadress = \"1.2.3.4/24\"\n", []string{":4:1:", "network.adress"}},
		{"wrong type", "hostname = 5\n[web]\nroot = \"www\"\n", []string{":1:", "hostname"}},
		{"syntax", "hostname = \"x\n", []string{":1:"}},
		{"bad hostname", "hostname = \"a_b\"\n[web]\nroot = \"www\"\n", []string{":1:1:", "hostname", "not a valid host name"}},
		{"missing root", "hostname = \"a\"\n", []string{"web.root", "missing"}},
		{"root not there", "[web]\nroot = \"nope\"\n", []string{":2:1:", "web.root", "does not exist"}},
		{"bad address", "[network]\naddress = \"10.0.2.15\"\n[web]\nroot = \"www\"\n", []string{":2:1:", "network.address", "prefix length"}},
		{"gateway outside", "[network]\naddress = \"10.0.2.15/24\"\ngateway = \"10.0.3.1\"\n[web]\nroot = \"www\"\n", []string{":3:1:", "network.gateway", "not inside"}},
		{"dhcp and static", "[network]\ndhcp = true\naddress = \"10.0.2.15/24\"\n[web]\nroot = \"www\"\n", []string{"network.dhcp", "exclude"}},
		{"bad dns", "[network]\ndhcp = true\ndns = [\"x\"]\n[web]\nroot = \"www\"\n", []string{":3:1:", "network.dns"}},
		{"alias prefix", "[web]\nroot = \"www\"\n[[web.alias]]\nprefix = \"images\"\ndir = \"www\"\n", []string{":4:1:", "web.alias.0.prefix"}},
		{"alias dir", "[web]\nroot = \"www\"\n[[web.alias]]\nprefix = \"/i\"\ndir = \"www\"\n[[web.alias]]\nprefix = \"/j\"\ndir = \"nope\"\n", []string{":8:1:", "web.alias.1.dir", "does not exist"}},
		{"alias twice", "[web]\nroot = \"www\"\n[[web.alias]]\nprefix = \"/i\"\ndir = \"www\"\n[[web.alias]]\nprefix = \"/i\"\ndir = \"www\"\n", []string{":7:1:", "aliased twice"}},
		{"app procs", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"./www\"\nprocs = 0\n", []string{":7:1:", "app.0.procs", "1 to 256"}},
		{"app procs word", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"./www\"\nprocs = \"many\"\n", []string{":7:1:", "app.0.procs", "auto"}},
		{"app no program", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\n", []string{":3:3:", "app.0.program", "missing"}},
		{"app prefix slash", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a/\"\nprogram = \"x\"\n", []string{":5:1:", "app.0.prefix", "trailing"}},
		{"two apps same name", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"x\"\n[[app]]\nname = \"a\"\nprefix = \"/b\"\nprogram = \"x\"\n", []string{":8:1:", "app.1.name", "two apps"}},
		{"env key", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"x\"\nenv = { \"A-B\" = \"1\" }\n", []string{":7:1:", "app.0.env"}},
		{"kernel missing", "[kernel]\npath = \"nope\"\n[web]\nroot = \"www\"\n", []string{":2:1:", "kernel.path", "not a readable file"}},
		{"modules without kernel", "[kernel]\nmodules = \"www\"\n[web]\nroot = \"www\"\n", []string{":2:1:", "kernel.modules"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.body)
			_, err := Load(p)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, p) {
				t.Errorf("error does not start with the file name: %v", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\n"))
	f.Add([]byte("a.b.c = 1\n[[x.y]]\n[x]\n"))
	dir := f.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	path := filepath.Join(dir, "appliance.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(path, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path) {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		if c.Web.Root == "" || c.Board == "" {
			t.Fatalf("accepted config without root or board: %+v", c)
		}
	})
}
