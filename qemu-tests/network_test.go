package qemutests

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
)

// TestBootDHCP boots with dhcp = true: QEMU's user-net DHCP server hands
// out 10.0.2.15 (with restrict=on, no router or DNS), and the page answers.
func TestBootDHCP(t *testing.T) {
	needQEMU(t)
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "www"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("dhcp\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte("hostname = \"dhcp\"\n[network]\ndhcp = true\n[web]\nroot = \"www\"\n"), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	g := tool.Boot(t, filepath.Join(out, "qemu-x86_64"))
	m := g.Console.Expect(t, regexp.MustCompile(`^init: net eth0 dhcp: ok 10\.0\.2\.15/24.*`), qemu.Scaled(60*time.Second))
	t.Log(m[0])
	if got := string(get(t, g.URL, qemu.Scaled(30*time.Second))); got != "dhcp\n" {
		t.Errorf("GET / = %q", got)
	}
	if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
		t.Fatalf("power-off: %v", err)
	}
}

// TestBootNetworkOptions boots with a static IPv4 and IPv6 address, an MTU
// and a second interface, and checks each reached the console.
func TestBootNetworkOptions(t *testing.T) {
	needQEMU(t)
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "www"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("net\n"), 0o644))
	cfg := `hostname = "net"
[network]
address = "10.0.2.15/24"
addresses = ["fd00::15/64"]
gateway = "10.0.2.2"
mtu = 1400
[[network.extra]]
interface = "eth1"
address = "192.168.77.2/24"
[web]
root = "www"
`
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	g := tool.Boot(t, "-qemu-arg=-netdev", "-qemu-arg=user,id=n1,restrict=on,net=192.168.77.0/24",
		"-qemu-arg=-device", "-qemu-arg=virtio-net-pci,netdev=n1", filepath.Join(out, "qemu-x86_64"))
	for _, re := range []string{
		`^init: net eth0: ok 10\.0\.2\.15/24 fd00::15/64 mtu 1400`,
		`^init: net eth1: ok 192\.168\.77\.2/24`,
		`^init: net eth0 slaac: ok fec0::`,
	} {
		g.Console.Expect(t, regexp.MustCompile(re), qemu.Scaled(60*time.Second))
	}
	if got := string(get(t, g.URL, qemu.Scaled(30*time.Second))); got != "net\n" {
		t.Errorf("GET / = %q", got)
	}
	if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
		t.Fatalf("power-off: %v", err)
	}
}
