package qemutests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/qemu"
)

// notesApp is a test-only FastCGI app that keeps a note in $DATA_DIR.
func notesApp() string {
	return fmt.Sprintf("\n[[app]]\nname = \"notes\"\nprefix = \"/notes\"\nprogram = %q\nprocs = 1\n",
		filepath.Join(tool.Src, "qemu-tests", "testdata", "notes"))
}

// boardImage builds an appliance for board with the example web root and
// body's sections, and returns the image directory.
func boardImage(t *testing.T, board, body string) string {
	t.Helper()
	dir := t.TempDir()
	www := filepath.Join(tool.Src, "examples", "appliance", "www")
	cfg := fmt.Sprintf("board = %q\n[network]\naddress = \"10.0.2.15/24\"\n[web]\nroot = %q\n%s", board, www, body)
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	return filepath.Join(out, board)
}

// diskCopy copies the image's disk.img to a temporary file, as a user
// would upload it, so boots can write to it.
func diskCopy(t *testing.T, img string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "disk.img")
	cmd := exec.Command("cp", "--sparse=always", filepath.Join(img, "disk.img"), dst)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copying the disk image: %v %s", err, b)
	}
	return dst
}

type note struct {
	Dir     string `json:"dir"`
	Note    string `json:"note"`
	UID     int    `json:"uid"`
	FSBytes int64  `json:"fs_bytes"`
	Version string `json:"version"`
	// System and Previous are what init tells the app of the system's
	// version and the one an update replaced.
	System   string `json:"system"`
	Previous string `json:"previous"`
	// Resolv is /etc/resolv.conf as the app reads it; RootWrite why it
	// could not create a file in / ("created" if it could).
	Resolv    string `json:"resolv"`
	RootWrite string `json:"root_write"`
}

// notes GETs (body == "") or PUTs the note through the front end.
func notes(t *testing.T, g *Guest, body string) note {
	t.Helper()
	var resp *http.Response
	var err error
	client := &http.Client{Timeout: 20 * time.Second}
	deadline := time.Now().Add(qemu.Scaled(30 * time.Second))
	for {
		req, _ := http.NewRequest(http.MethodGet, g.URL+"notes/", nil)
		if body != "" {
			req, _ = http.NewRequest(http.MethodPut, g.URL+"notes/", strings.NewReader(body))
		}
		resp, err = client.Do(req)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("notes: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("notes: %s: %s", resp.Status, data)
	}
	var n note
	if err := json.Unmarshal(data, &n); err != nil {
		t.Fatalf("notes: %v: %s", err, data)
	}
	return n
}

var dataLine = regexp.MustCompile(`^init: data: ok (/dev/\S+) \(mkimage-data\) on /data, (\d+) MiB`)

func powerOff(t *testing.T, g *Guest) {
	t.Helper()
	if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
		t.Fatalf("mkimage boot exited with %v after power-off (want status 0)", err)
	}
	if !g.Console.Contains("init: power off: ok") {
		t.Error("init did not power off")
	}
}

// TestDiskPC boots the x86_64 disk image the way a VPS would: first under
// SeaBIOS (GRUB in the MBR and the BIOS boot partition) attached as a 1 GiB
// disk, where init grows the data partition and its filesystem and the app
// writes a note to $DATA_DIR; then, after power-off, the same disk under
// OVMF (GRUB as BOOTX64.EFI, the same grub.cfg and slot), where the note
// is still there. Both boot slot a, committed. The appliance has HTTPS
// by ACME from pebble on the host (acme_test.go): the first boot obtains
// the certificate and serves it; the second, with pebble gone, serves the
// same certificate from /data.
func TestDiskPC(t *testing.T) {
	needQEMU(t)
	acme := startACMEPeer(t)
	img := boardImage(t, "qemu-x86_64", notesApp()+acme.config())
	disk := diskCopy(t, img)
	index, err := os.ReadFile(filepath.Join(tool.Src, "examples", "appliance", "www", "index.html"))
	must(t, err)

	start := time.Now()
	g := tool.Boot(t, append(acme.bootArgs(), "-boot", "bios", "-disk", disk, "-disk-size", "1G", img)...)
	g.Console.Expect(t, regexp.MustCompile(`^init: data grow: ok vda5: partition 32 MiB to \d+ MiB`), qemu.Scaled(120*time.Second))
	m := g.Console.Expect(t, dataLine, qemu.Scaled(30*time.Second))
	// 1 GiB less the ESP (40 MiB) and two 80 MiB slots: about 820 MiB.
	if size, _ := strconv.Atoi(m[2]); size < 800 {
		t.Errorf("/data is %d MiB on a 1 GiB disk, want it grown to about 820", size)
	}
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(60*time.Second))
	if !g.Console.Contains("mkimage: booting slot a (committed)") {
		t.Error("GRUB's line is not on the serial console under SeaBIOS")
	}
	const msg = "written under SeaBIOS"
	n := notes(t, g, msg)
	t.Logf("BIOS disk boot to the app's answer: %.1f s", time.Since(start).Seconds())
	if n.Dir != "/data/apps/notes" || n.UID != 1000 || n.Note != msg || n.FSBytes < 780<<20 {
		t.Errorf("note after PUT: %+v", n)
	}
	serial := acme.checkFirstBoot(t, g, index)
	powerOff(t, g)
	acme.p.Stop()

	start = time.Now()
	g = tool.Boot(t, append(acme.bootArgs(), "-boot", "uefi", "-disk", disk, img)...)
	m = g.Console.Expect(t, dataLine, qemu.Scaled(120*time.Second))
	if g.Console.Contains("init: data grow: ok") {
		t.Error("the data partition grew again on the second boot")
	}
	n = notes(t, g, "")
	t.Logf("UEFI disk boot to the app's answer: %.1f s", time.Since(start).Seconds())
	if n.Note != msg {
		t.Errorf("after a power-off and a UEFI boot the note is %q, want %q", n.Note, msg)
	}
	if !g.Console.Contains("BdsDxe: starting") {
		t.Error("no sign of OVMF on the console")
	}
	if !g.Console.Contains("mkimage: booting slot a (committed)") {
		t.Error("GRUB did not say it booted slot a, committed")
	}
	acme.checkFromStorage(t, g, serial)
	powerOff(t, g)
}

// TestDiskAarch64 boots the aarch64 image directly (-kernel, /data on a
// tmpfs) and its disk image under AAVMF (GRUB as BOOTAA64.EFI), where
// the data partition holds the app's note.
func TestDiskAarch64(t *testing.T) {
	needQEMUBinary(t, "qemu-system-aarch64")
	if _, err := os.Stat("/usr/share/AAVMF/AAVMF_CODE.fd"); err != nil && os.Getenv("MKIMAGE_REQUIRE_QEMU") != "1" {
		t.Skip("AAVMF not installed (qemu-efi-aarch64)")
	}
	img := boardImage(t, "qemu-aarch64", notesApp())

	start := time.Now()
	g := tool.Boot(t, img)
	g.Console.Expect(t, regexp.MustCompile(`^init: data: ok tmpfs`), qemu.Scaled(120*time.Second))
	if got := get(t, g.URL, qemu.Scaled(60*time.Second)); !bytes.Contains(got, []byte("<html")) {
		t.Errorf("GET / = %.80q", got)
	}
	t.Logf("aarch64 direct boot to HTTP: %.1f s", time.Since(start).Seconds())
	powerOff(t, g)

	start = time.Now()
	g = tool.Boot(t, "-boot", "uefi", "-disk", diskCopy(t, img), img)
	g.Console.Expect(t, dataLine, qemu.Scaled(120*time.Second))
	n := notes(t, g, "written on arm64")
	t.Logf("aarch64 UEFI disk boot to the app's answer: %.1f s", time.Since(start).Seconds())
	if n.Dir != "/data/apps/notes" || n.Note != "written on arm64" {
		t.Errorf("note: %+v", n)
	}
	powerOff(t, g)
}

// TestRaspberryPi3 boots the Pi 3 build under QEMU's raspi3b with its SD
// card image attached (grown to 512 MiB: QEMU wants a power of 2): init
// runs, finds the data partition on the SD card and grows it (MBR), and
// serves over the USB network adapter.
func TestRaspberryPi3(t *testing.T) {
	needQEMUBinary(t, "qemu-system-aarch64")
	img := boardImage(t, "rpi3", "")
	g := tool.Boot(t, "-disk", diskCopy(t, img), "-disk-size", "512M", img)
	g.Console.Expect(t, regexp.MustCompile(`^init: data grow: ok mmcblk0p2: partition 32 MiB to`), qemu.Scaled(120*time.Second))
	g.Console.Expect(t, regexp.MustCompile(`^init: data: ok /dev/mmcblk0p2 `), qemu.Scaled(30*time.Second))
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(60*time.Second))
	// The USB NIC (cdc_ether) appears after init starts; init waits for it.
	g.Console.Expect(t, regexp.MustCompile(`^init: net usb0: ok 10\.0\.2\.15/24`), qemu.Scaled(60*time.Second))
	want, err := os.ReadFile(filepath.Join(tool.Src, "examples", "appliance", "www", "index.html"))
	must(t, err)
	if got := get(t, g.URL, qemu.Scaled(60*time.Second)); string(got) != string(want) {
		t.Errorf("GET / on the Pi: %q", got)
	}
	// raspi3b has no power button; the cleanup ends QEMU.
}

// TestRPiZero2WImage checks the Zero 2 W's SD card image (QEMU cannot
// run it) byte by byte: MBR with a bootable FAT32 partition and a Linux
// one, the firmware, device tree, kernel and initramfs in place,
// config.txt and cmdline.txt. (The Pi 4 and 5 cards: rpi_test.go.)
func TestRPiZero2WImage(t *testing.T) {
	checkRPiImage(t, "rpizero2w", []string{"/bootcode.bin", "/start.elf", "/fixup.dat", "/a/bcm2710-rpi-zero-2-w.dtb"})
}

func checkRPiImage(t *testing.T, board string, files []string) {
	img := boardImage(t, board, "")
	m, err := manifest.Read(img)
	must(t, err)
	d, err := diskfs.Open(filepath.Join(img, "disk.img"), diskfs.WithOpenMode(diskfs.ReadOnly))
	must(t, err)
	defer d.Close()
	tbl, err := d.GetPartitionTable()
	must(t, err)
	mt, ok := tbl.(*mbr.Table)
	if !ok || len(mt.Partitions) < 2 {
		t.Fatalf("want an MBR with two partitions, got %T", tbl)
	}
	if p := mt.Partitions[0]; p.Type != mbr.Fat32LBA || !p.Bootable || p.Start != 2048 {
		t.Errorf("partition 1: %+v", p)
	}
	if p := mt.Partitions[1]; p.Type != mbr.Linux {
		t.Errorf("partition 2: %+v", p)
	}
	fs, err := d.GetFilesystem(1)
	must(t, err)
	read := func(p string) []byte {
		f, err := fs.OpenFile(p, os.O_RDONLY)
		if err != nil {
			t.Errorf("boot partition lacks %s: %v", p, err)
			return nil
		}
		b, _ := io.ReadAll(f)
		return b
	}
	for _, f := range append(files, "/a/vmlinuz", "/a/initrd.zst") {
		if b := read(f); len(b) == 0 {
			t.Errorf("%s is empty", f)
		}
	}
	cfg := string(read("/config.txt"))
	for _, want := range []string{"arm_64bit=1", "enable_uart=1", "os_prefix=a/", "kernel=vmlinuz", "initramfs initrd.zst followkernel"} {
		if !strings.Contains(cfg, want+"\n") {
			t.Errorf("config.txt lacks %q:\n%s", want, cfg)
		}
	}
	cmdline := string(read("/a/cmdline.txt"))
	if !strings.Contains(cmdline, "console=ttyS0,115200") || !strings.Contains(cmdline, "mkimage.data=mkimage-data") {
		t.Errorf("cmdline.txt = %q", cmdline)
	}
	if got := read("/a/initrd.zst"); int64(len(got)) != m.Initramfs.Size {
		t.Errorf("initrd on the card: %d bytes, built %d", len(got), m.Initramfs.Size)
	}
	if m.Disk == nil || m.Disk.Table != "mbr" || len(m.Disk.DiskID) != 8 {
		t.Errorf("manifest disk: %+v", m.Disk)
	}
}
