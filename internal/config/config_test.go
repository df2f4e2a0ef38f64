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
		{"mtu", "[network]\ndhcp = true\nmtu = 100\n[web]\nroot = \"www\"\n", []string{":3:1:", "network.mtu"}},
		{"gateway6 is v4", "[network]\naddress = \"fd00::2/64\"\ngateway6 = \"10.0.0.1\"\n[web]\nroot = \"www\"\n", []string{":3:1:", "network.gateway6", "IPv6"}},
		{"extra without name", "[network]\ndhcp = true\n[[network.extra]]\ndhcp = true\n[web]\nroot = \"www\"\n", []string{":3:3:", "network.extra.0.interface"}},
		{"extra twice", "[network]\ninterface = \"eth0\"\ndhcp = true\n[[network.extra]]\ninterface = \"eth0\"\ndhcp = true\n[web]\nroot = \"www\"\n", []string{":5:1:", "configured twice"}},
		{"extra bad address", "[network]\ndhcp = true\n[[network.extra]]\ninterface = \"eth1\"\naddresses = [\"x\"]\n[web]\nroot = \"www\"\n", []string{":5:1:", "network.extra.0.addresses"}},
		{"link timeout", "[network]\ndhcp = true\nlink_timeout = \"soon\"\n[web]\nroot = \"www\"\n", []string{":3:1:", "network.link_timeout"}},
		{"stack size", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"x\"\nstack_size = \"huge\"\n", []string{":7:1:", "app.0.stack_size"}},
		{"stack too small", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"x\"\nstack_size = 1024\n", []string{":7:1:", "between 64k and 1G"}},
		{"spares", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"x\"\nmin_spare = 5\nmax_spare = 2\n", []string{"app.0.min_spare"}},
		{"timeout", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"x\"\nrequest_timeout = \"5\"\n", []string{":7:1:", "app.0.request_timeout"}},
		{"relative file", "[web]\nroot = \"www\"\n[[app]]\nname = \"a\"\nprefix = \"/a\"\nprogram = \"x\"\nfiles = [\"etc/x\"]\n", []string{":7:1:", "app.0.files", "absolute"}},
		{"kernel missing", "[kernel]\npath = \"nope\"\n[web]\nroot = \"www\"\n", []string{":2:1:", "kernel.path", "not a readable file"}},
		{"modules without kernel", "[kernel]\nmodules = \"www\"\n[web]\nroot = \"www\"\n", []string{":2:1:", "kernel.modules"}},
		{"kernel build unknown", "[kernel]\nbuild = \"tiny\"\n[web]\nroot = \"www\"\n", []string{":2:1:", "kernel.build", `unknown kernel build "tiny"`}},
		{"kernel build and path", "[kernel]\npath = \"www\"\nbuild = \"small\"\n[web]\nroot = \"www\"\n", []string{":3:1:", "kernel.build", "keep one"}},
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

func TestNetworkAndTuning(t *testing.T) {
	c, err := Load(writeConfig(t, `[network]
address = "10.0.2.15/24"
addresses = ["fd00::15/64"]
gateway = "10.0.2.2"
gateway6 = "fd00::1"
mtu = 1400
slaac = false
[[network.extra]]
interface = "eth1"
dhcp = true
[web]
root = "www"
[[app]]
name = "a"
prefix = "/"
program = "./www"
stack_size = "256k"
max_threads = 8
base_memory = "24M"
`))
	if err != nil {
		t.Fatal(err)
	}
	all := c.Network.AllInterfaces()
	if len(all) != 2 || all[0].MTU != 1400 || *all[0].SLAAC || !all[1].DHCP || all[1].Interface != "eth1" {
		t.Errorf("network decoded wrongly: %+v", all)
	}
	if n, _ := c.Apps[0].StackBytes(); n != 256<<10 {
		t.Errorf("stack = %d", n)
	}
	if c.Apps[0].BaseMiB() != 24 {
		t.Errorf("base = %d", c.Apps[0].BaseMiB())
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"512": 512, "256k": 256 << 10, "1M": 1 << 20, "2GiB": 2 << 30, " 8 MiB ": 8 << 20, "2T": 2 << 40, "1tib": 1 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "k", "1P", "-1", "1.5M", "99999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
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
