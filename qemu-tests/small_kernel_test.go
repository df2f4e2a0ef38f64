package qemutests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"

	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/qemu"
	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater/slots"
)

// The RAM the small kernel's direct and SeaBIOS boots get: one step (4 MiB)
// above the least that booted and served the example 3 times out of 3
// (x86_64 44 MiB, aarch64 44 MiB; 4 MiB less could not start init).
const (
	smallX86MiB = 48
	smallArmMiB = 48
)

// smallIdleMiB bounds the RAM in use (MemTotal - MemAvailable, the status
// page's mem_in_use_mib) just after the test's image (the example plus the
// notes app, a second Go process) first serves with the small kernel:
// 19-22 MiB measured (the example alone, idle 10 s: 17-18), with the root
// a squashfs whose file pages the kernel may drop. Unpacked into RAM, the
// root would add about 12 MiB.
const smallIdleMiB = 26

// The root's line: booted directly, the squashfs initrd copied to a RAM
// disk; from a disk, the image in the slot partition, mapped by the kernel
// (no initrd: GRUB reads the kernel only).
var (
	ramRoot    = regexp.MustCompile(`^init: root: ok squashfs on ram0, read-only, complete`)
	mappedRoot = regexp.MustCompile(`^init: root: ok squashfs on dm-0, read-only, complete`)
)

// checkBackendsKept asks both apps until the status page says each has
// answered the front end's FCGI_GET_VALUES, then checks the front end
// keeps connections open to those that serve several at once: notes (Go's
// net/http/fcgi multiplexes) always, fcgiapp unless the tuning left it one
// thread (FCGI_MAX_CONNS 1, as in 48 MiB). The front end starts with the
// pools, so its first question may wait in the backlog of an app still
// starting; it asks again 10 s later, and must not give up on reuse.
func checkBackendsKept(t *testing.T, g *Guest) {
	t.Helper()
	var st struct {
		FastCGI []struct {
			App      string `json:"app"`
			Reused   bool   `json:"reused"`
			MaxConns int64  `json:"max_conns"`
		} `json:"fastcgi"`
	}
	deadline := time.Now().Add(qemu.Scaled(60 * time.Second))
	for answered := 0; answered < 2 || len(st.FastCGI) != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the apps' FCGI_GET_VALUES answers did not reach the front end: %+v", st.FastCGI)
		}
		time.Sleep(time.Second)
		get(t, g.URL+"app/hello", qemu.Scaled(30*time.Second))
		get(t, g.URL+"notes/health", qemu.Scaled(30*time.Second))
		if err := json.Unmarshal(get(t, g.URL+".status.json", qemu.Scaled(30*time.Second)), &st); err != nil {
			t.Fatalf("status page: %v", err)
		}
		answered = 0
		for _, b := range st.FastCGI {
			if b.MaxConns > 0 {
				answered++
			}
		}
	}
	t.Logf("FastCGI backends: %+v", st.FastCGI)
	for _, b := range st.FastCGI {
		if b.Reused != (b.MaxConns > 1) || b.App == "notes" && !b.Reused {
			t.Errorf("%s serves %d connections at once, and the front end keeps them open: %v", b.App, b.MaxConns, b.Reused)
		}
	}
}

// checkIdleRAM asserts the status page's RAM in use is under smallIdleMiB.
func checkIdleRAM(t *testing.T, g *Guest, boot string) {
	t.Helper()
	var st struct {
		InUse    uint64               `json:"mem_in_use_mib"`
		Total    uint64               `json:"mem_total_mib"`
		Services []spec.ServiceReport `json:"services"`
	}
	if err := json.Unmarshal(get(t, g.URL+".status.json", qemu.Scaled(30*time.Second)), &st); err != nil {
		t.Fatalf("status page: %v", err)
	}
	var own []string
	for _, s := range st.Services {
		own = append(own, fmt.Sprintf("%s %d of %d KiB", s.Name, s.AnonKiB, s.RSSKiB))
		// A service's own memory is part of its RSS (the rest is the
		// program's pages, which the kernel may drop at 48 MiB).
		if s.PID > 0 && (s.AnonKiB <= 0 || s.AnonKiB > s.RSSKiB) {
			t.Errorf("%s: %s has %d KiB of its own in an RSS of %d KiB", boot, s.Name, s.AnonKiB, s.RSSKiB)
		}
	}
	t.Logf("%s: RAM in use %d MiB of %d MiB; the services' own (anonymous) memory: %s", boot, st.InUse, st.Total, strings.Join(own, ", "))
	if st.InUse == 0 || st.InUse > smallIdleMiB {
		t.Errorf("%s: RAM in use %d MiB, want 1-%d", boot, st.InUse, smallIdleMiB)
	}
}

// smallImage builds the example appliance for board with the small kernel
// ([kernel] build = "small"), the notes app (for /data) and DHCP on a second
// NIC, and returns the image directory.
func smallImage(t *testing.T, board string) string {
	t.Helper()
	dir := t.TempDir()
	example, err := os.ReadFile(exampleConfig())
	must(t, err)
	www := filepath.Join(tool.Src, "examples", "appliance", "www")
	cfg := bytes.ReplaceAll(example, []byte(`root = "www"`), []byte(fmt.Sprintf("root = %q", www)))
	cfg = bytes.ReplaceAll(cfg, []byte(`board = "qemu-x86_64"`), []byte(fmt.Sprintf("board = %q", board)))
	cfg = append(cfg, notesApp()+"\n[kernel]\nbuild = \"small\"\n\n[[network.extra]]\ninterface = \"eth1\"\ndhcp = true\n"...)
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), cfg, 0o644))
	out := filepath.Join(dir, "out")
	msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	if !strings.Contains(msg, "small kernel from linux-source") {
		t.Errorf("the build did not say it used the small kernel:\n%s", msg)
	}
	return filepath.Join(out, board)
}

// secondNIC returns mkimage boot's arguments for a second NIC of the given
// QEMU model on its own user network (192.168.77.0/24, DHCP), and the URL
// of the guest's port 80 through it.
func secondNIC(t *testing.T, model string) ([]string, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	netdev := fmt.Sprintf("user,id=n1,restrict=on,net=192.168.77.0/24,hostfwd=tcp:127.0.0.1:%d-:80", port)
	return []string{"-qemu-arg=-netdev", "-qemu-arg=" + netdev, "-qemu-arg=-device", "-qemu-arg=" + model + ",netdev=n1"},
		fmt.Sprintf("http://127.0.0.1:%d/", port)
}

// checkServes asserts the page, a static file and the FastCGI app answer.
func checkServes(t *testing.T, g *Guest) {
	t.Helper()
	index, err := os.ReadFile(filepath.Join(tool.Src, "examples", "appliance", "www", "index.html"))
	must(t, err)
	if got := get(t, g.URL, qemu.Scaled(30*time.Second)); !bytes.Equal(got, index) {
		t.Errorf("GET / = %.80q, want index.html", got)
	}
	noise, err := os.ReadFile(filepath.Join(tool.Src, "examples", "appliance", "www", "images", "noise.bin"))
	must(t, err)
	if got := get(t, g.URL+"images/noise.bin", qemu.Scaled(30*time.Second)); !bytes.Equal(got, noise) {
		t.Errorf("static file: %d bytes, want %d", len(got), len(noise))
	}
	if got := string(get(t, g.URL+"app/hello", qemu.Scaled(30*time.Second))); got != "hello\n" {
		t.Errorf("GET /app/hello = %q", got)
	}
}

// powerButton presses the power button (mkimage boot's system_powerdown)
// and asserts that init heard it and QEMU exited 0.
func powerButton(t *testing.T, g *Guest) {
	t.Helper()
	powerOff(t, g)
	if !g.Console.Contains("init: shutdown: ok (power button)") {
		t.Error("the power button did not reach init")
	}
}

// TestSmallKernelX86 boots the example appliance with the small x86_64
// kernel three ways: directly in smallKernelMiB with an e1000 as a second
// NIC (DHCP; IPv6 SLAAC on the first), then its disk under SeaBIOS in
// smallX86MiB, where the app writes a note to /data, then the same disk
// under OVMF from slot b (as after an update), where the note is still
// there. Disk boots map the root from the slot partition.
// Each boot serves the page and the app and powers off on the power button.
func TestSmallKernelX86(t *testing.T) {
	needQEMU(t)
	img := smallImage(t, "qemu-x86_64")
	mem := fmt.Sprintf("-m=%d", smallX86MiB)

	nic, e1000URL := secondNIC(t, "e1000")
	start := time.Now()
	g := tool.Boot(t, append(append([]string{mem}, nic...), img)...)
	g.Console.Expect(t, ramRoot, qemu.Scaled(90*time.Second))
	for _, re := range []string{
		`^init: net eth0: ok 10\.0\.2\.15/24`,
		`^init: net eth1 dhcp: ok 192\.168\.77\.15/24`,
		`^init: data: ok tmpfs`,
		`^init: ready: ok`,
		`^init: net eth0 slaac: ok fec0::`,
	} {
		g.Console.Expect(t, regexp.MustCompile(re), qemu.Scaled(90*time.Second))
	}
	checkServes(t, g)
	t.Logf("x86_64 direct boot in %d MiB to the app's answer: %.1f s", smallX86MiB, time.Since(start).Seconds())
	checkIdleRAM(t, g, "x86_64 direct")
	checkBackendsKept(t, g)
	if got := get(t, e1000URL, qemu.Scaled(30*time.Second)); !bytes.Contains(got, []byte("<html")) {
		t.Errorf("GET / through the e1000 = %.80q", got)
	}
	powerButton(t, g)

	disk := diskCopy(t, img)
	start = time.Now()
	g = tool.Boot(t, mem, "-boot", "bios", "-disk", disk, img)
	g.Console.Expect(t, mappedRoot, qemu.Scaled(120*time.Second))
	g.Console.Expect(t, dataLine, qemu.Scaled(120*time.Second))
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(60*time.Second))
	checkServes(t, g)
	const msg = "written under SeaBIOS with the small kernel"
	if n := notes(t, g, msg); n.Note != msg || n.Dir != "/data/apps/notes" {
		t.Errorf("note after PUT: %+v", n)
	}
	// The name servers reach the app through /etc/resolv.conf's link to
	// /run; the read-only root takes no file, not even from root's own.
	if n := notes(t, g, ""); n.Resolv != "nameserver 10.0.2.3\n" || !strings.Contains(n.RootWrite, "read-only file system") {
		t.Errorf("the app read /etc/resolv.conf %q; creating /notes-was-here: %q", n.Resolv, n.RootWrite)
	}
	t.Logf("x86_64 SeaBIOS disk boot in %d MiB to the app's answer: %.1f s", smallX86MiB, time.Since(start).Seconds())
	checkIdleRAM(t, g, "x86_64 SeaBIOS disk")
	powerButton(t, g)

	// An update's slot: slot b, committed, and the same root mapped from
	// its partition (the slot's cmdline.cfg names whichever partition
	// GRUB probed).
	commitSlotB(t, img, disk)
	start = time.Now()
	g = tool.Boot(t, "-boot", "uefi", "-disk", disk, img)
	// (GRUB under UEFI starts the line with colour codes.)
	g.Console.Expect(t, regexp.MustCompile(`mkimage: booting slot b \(committed\) from \(hd0,gpt4\)`), qemu.Scaled(120*time.Second))
	g.Console.Expect(t, mappedRoot, qemu.Scaled(120*time.Second))
	g.Console.Expect(t, dataLine, qemu.Scaled(120*time.Second))
	if n := notes(t, g, ""); n.Note != msg {
		t.Errorf("after a power-off and an OVMF boot the note is %q, want %q", n.Note, msg)
	}
	if !g.Console.Contains("BdsDxe: starting") {
		t.Error("no sign of OVMF on the console")
	}
	checkServes(t, g)
	t.Logf("x86_64 OVMF disk boot to the app's answer: %.1f s", time.Since(start).Seconds())
	powerButton(t, g)
}

// TestSmallKernelAarch64 boots the example appliance with the small arm64
// kernel directly (device tree: gpio-keys power button) in smallArmMiB
// and its disk under AAVMF (ACPI: the ACPI power button, a UKI), where the
// app writes a note to /data.
func TestSmallKernelAarch64(t *testing.T) {
	needQEMUBinary(t, "qemu-system-aarch64")
	if _, err := os.Stat("/usr/share/AAVMF/AAVMF_CODE.fd"); err != nil && os.Getenv("MKIMAGE_REQUIRE_QEMU") != "1" {
		t.Skip("AAVMF not installed (qemu-efi-aarch64)")
	}
	img := smallImage(t, "qemu-aarch64")

	start := time.Now()
	g := tool.Boot(t, fmt.Sprintf("-m=%d", smallArmMiB), img)
	g.Console.Expect(t, ramRoot, qemu.Scaled(120*time.Second))
	g.Console.Expect(t, regexp.MustCompile(`^init: data: ok tmpfs`), qemu.Scaled(120*time.Second))
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(60*time.Second))
	checkServes(t, g)
	t.Logf("aarch64 direct boot in %d MiB to the app's answer: %.1f s", smallArmMiB, time.Since(start).Seconds())
	checkIdleRAM(t, g, "aarch64 direct")
	powerButton(t, g)

	start = time.Now()
	g = tool.Boot(t, "-boot", "uefi", "-disk", diskCopy(t, img), img)
	g.Console.Expect(t, mappedRoot, qemu.Scaled(120*time.Second))
	g.Console.Expect(t, dataLine, qemu.Scaled(120*time.Second))
	const msg = "written on arm64 with the small kernel"
	if n := notes(t, g, msg); n.Note != msg || n.Dir != "/data/apps/notes" {
		t.Errorf("note after PUT: %+v", n)
	}
	checkServes(t, g)
	t.Logf("aarch64 AAVMF disk boot to the app's answer: %.1f s", time.Since(start).Seconds())
	powerButton(t, g)
}

// commitSlotB leaves disk as a committed update to the image's own system
// would: its slot.img in slot b, and b the committed slot in GRUB's
// environment block (no trial). The next boot runs slot b.
func commitSlotB(t *testing.T, img, disk string) {
	t.Helper()
	m, err := manifest.Read(img)
	must(t, err)
	if m.Disk == nil || m.Slot == nil {
		t.Fatalf("%s has no disk image or slot image", img)
	}
	var slotB, boot manifest.Partition
	for _, p := range m.Disk.Partitions {
		switch p.Name {
		case "slot-b":
			slotB = p
		case "boot":
			boot = p
		}
	}
	slot, err := os.ReadFile(filepath.Join(img, m.Slot.Name))
	must(t, err)
	if slotB.Size < int64(len(slot)) || boot.Index == 0 {
		t.Fatalf("no slot b for %d bytes, or no boot partition: %+v", len(slot), m.Disk.Partitions)
	}
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt(slot, slotB.Start)
	must(t, err)
	must(t, f.Close())

	var env slots.Env
	env.Set("committed", "b")
	env.Set("trial", "")
	env.Set("tried", "")
	block, err := env.Format()
	must(t, err)
	d, err := diskfs.Open(disk, diskfs.WithOpenMode(diskfs.ReadWrite))
	must(t, err)
	defer d.Close()
	fs, err := d.GetFilesystem(boot.Index)
	must(t, err)
	w, err := fs.OpenFile("/grub/grubenv", os.O_RDWR)
	must(t, err)
	_, err = w.Write(block)
	must(t, err)
	must(t, w.Close())
}
