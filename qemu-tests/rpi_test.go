package qemutests

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/updatekey"
)

// TestPiABImage checks the Pi 4 and Pi 5 SD card images, built with
// updates on, byte by byte (QEMU has no Pi 4 or 5): an MBR with p1 (FAT32)
// holding only autoboot.txt for the EEPROM bootloader's tryboot_a_b and
// the trial marker, p2 slot a holding slot.img byte for byte with the real
// firmware (Pi 4; none on a Pi 5), device trees for the board's SoC,
// overlays, config.txt, cmdline.txt, the kernel built and the initramfs,
// p3 slot b empty, p4 data; and `mkimage update --bundle` signs that
// slot.img for the board.
func TestPiABImage(t *testing.T) {
	for _, c := range []struct {
		board, soc, console string
		config, notConfig   []string
	}{
		{"rpi4", "brcm,bcm2711", "console=ttyS0,115200", []string{"arm_64bit=1", "enable_uart=1"}, nil},
		{"rpi5", "brcm,bcm2712", "console=ttyAMA10,115200", nil, []string{"arm_64bit", "enable_uart", "os_check"}},
	} {
		t.Run(c.board, func(t *testing.T) {
			xdg := t.TempDir()
			env := []string{"XDG_CONFIG_HOME=" + xdg}
			// The build makes the key pair: no keygen first.
			img := updateImage(t, env, c.board, "1.0.0", "ok", "")
			m, err := manifest.Read(img)
			must(t, err)
			b, err := board.Lookup(c.board)
			must(t, err)
			d, err := diskfs.Open(filepath.Join(img, "disk.img"), diskfs.WithOpenMode(diskfs.ReadOnly))
			must(t, err)
			defer d.Close()
			parts := piPartitions(t, d)
			if got := piRead(t, d, 1, "/autoboot.txt"); got != "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n" {
				t.Errorf("autoboot.txt = %q", got)
			}
			checkPiSlot(t, d, b, m, img, c.soc, c.console)
			cfg := piRead(t, d, 2, "/config.txt")
			for _, want := range append(c.config, "kernel=vmlinuz", "initramfs initrd.zst followkernel") {
				if !strings.Contains(cfg, want+"\n") {
					t.Errorf("config.txt lacks %q:\n%s", want, cfg)
				}
			}
			for _, not := range append(c.notConfig, "os_prefix") {
				if strings.Contains(cfg, not) {
					t.Errorf("config.txt has %q:\n%s", not, cfg)
				}
			}
			raw, err := os.ReadFile(filepath.Join(img, "disk.img"))
			must(t, err)
			slot, err := os.ReadFile(filepath.Join(img, "slot.img"))
			must(t, err)
			a, bb := parts[1], parts[2]
			if m.Slot == nil || int64(len(slot)) != a.size || !bytes.Equal(raw[a.start:a.start+a.size], slot) {
				t.Errorf("slot a (%d bytes) is not slot.img (%d bytes; manifest %+v)", a.size, len(slot), m.Slot)
			}
			if bytes.Count(raw[bb.start:bb.start+bb.size], []byte{0}) != int(bb.size) {
				t.Error("slot b is not empty")
			}
			out := filepath.Join(t.TempDir(), "v1.mkup")
			if msg, code := run(t, env, "update", img, "--bundle", out); code != 0 {
				t.Fatalf("update --bundle: exit %d\n%s", code, msg)
			}
			f, err := os.Open(out)
			must(t, err)
			defer f.Close()
			line, err := updatekey.ReadPublicKey(filepath.Join(xdg, "mkimage", updatekey.PublicName))
			must(t, err)
			pub, _, err := bundle.ParsePublic(line)
			must(t, err)
			br, err := bundle.Open(f, []ed25519.PublicKey{pub}, bundle.Limits{MaxPayload: int64(len(slot)) * 2})
			must(t, err)
			if h := br.Header(); h.Board != c.board || h.Payload.ImageSize != int64(len(slot)) {
				t.Errorf("bundle header %+v: want board %s, image %d bytes", h, c.board, len(slot))
			}
			if _, err := io.Copy(io.Discard, br.Payload()); err != nil || br.Verify() != nil {
				t.Errorf("the bundle does not verify: %v %v", err, br.Verify())
			}
		})
	}
}

type piPart struct{ start, size int64 }

// piPartitions checks the MBR (four partitions: FAT32 p1-p3, slots of one
// size, Linux p4) and returns them in bytes.
func piPartitions(t *testing.T, d *disk.Disk) []piPart {
	tbl, err := d.GetPartitionTable()
	must(t, err)
	mt, ok := tbl.(*mbr.Table)
	if !ok {
		t.Fatalf("want an MBR, got %T", tbl)
	}
	var parts []piPart
	for i, p := range mt.Partitions {
		if p.Type == mbr.Empty {
			continue
		}
		want := mbr.Fat32LBA
		if i == 3 {
			want = mbr.Linux
		}
		if p.Type != want {
			t.Errorf("partition %d: type %#x, want %#x", i+1, p.Type, want)
		}
		parts = append(parts, piPart{int64(p.Start) * 512, int64(p.Size) * 512})
	}
	if len(parts) != 4 || parts[0].start != 1<<20 || parts[1].size != parts[2].size || parts[1].size < 100<<20 {
		t.Fatalf("partitions %+v: want p1 at 1 MiB and two slots of one size, at least 100 MiB", parts)
	}
	return parts
}

// checkPiSlot checks slot a's files against the board and the build.
func checkPiSlot(t *testing.T, d *disk.Disk, b board.Board, m *manifest.Manifest, img, soc, console string) {
	for _, f := range b.Disk.Firmware {
		if len(piRead(t, d, 2, "/"+f)) == 0 {
			t.Errorf("firmware %s is empty", f)
		}
	}
	fs, err := d.GetFilesystem(2)
	must(t, err)
	root, err := fs.ReadDir(".")
	must(t, err)
	for _, e := range root {
		n := strings.ToLower(e.Name())
		if len(b.Disk.Firmware) == 0 && (strings.HasSuffix(n, ".elf") || strings.HasSuffix(n, ".dat") || strings.HasSuffix(n, ".bin")) {
			t.Errorf("firmware file %s on a card whose firmware is in the EEPROM", e.Name())
		}
	}
	dtbs := append([]string(nil), b.Disk.DTBs...)
	for _, o := range b.Disk.Overlays {
		dtbs = append(dtbs, "overlays/"+o)
	}
	for _, f := range dtbs {
		if !strings.HasSuffix(f, ".dtb") && !strings.HasSuffix(f, ".dtbo") {
			continue
		}
		dt := []byte(piRead(t, d, 2, "/"+f))
		if len(dt) < 40 || binary.BigEndian.Uint32(dt) != 0xd00dfeed {
			t.Errorf("%s is not a flattened device tree", f)
		} else if !bytes.Contains(dt, []byte(soc)) {
			t.Errorf("%s is not for %s", f, soc)
		}
	}
	kernel := []byte(piRead(t, d, 2, "/vmlinuz"))
	built, err := os.ReadFile(filepath.Join(img, "kernel"))
	must(t, err)
	if !bytes.Equal(kernel, built) || len(kernel) < 64 || string(kernel[0x38:0x3c]) != "ARM\x64" {
		t.Errorf("vmlinuz (%d bytes) is not the arm64 kernel built (%d bytes)", len(kernel), len(built))
	}
	if got := piRead(t, d, 2, "/initrd.zst"); int64(len(got)) != m.Initramfs.Size {
		t.Errorf("initrd on the card: %d bytes, built %d", len(got), m.Initramfs.Size)
	}
	cmdline := piRead(t, d, 2, "/cmdline.txt")
	if !strings.Contains(cmdline, console) || !strings.Contains(cmdline, "mkimage.data=mkimage-data") ||
		strings.Contains(cmdline, "mkimage.slot") || cmdline != m.Disk.Cmdline+"\n" {
		t.Errorf("cmdline.txt = %q (manifest %q): the same in either slot, with %s", cmdline, m.Disk.Cmdline, console)
	}
}

// piRead reads a file of partition n's FAT filesystem.
func piRead(t *testing.T, d *disk.Disk, n int, p string) string {
	t.Helper()
	fs, err := d.GetFilesystem(n)
	must(t, err)
	f, err := fs.OpenFile(p, os.O_RDONLY)
	if err != nil {
		t.Errorf("partition %d lacks %s: %v", n, p, err)
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
