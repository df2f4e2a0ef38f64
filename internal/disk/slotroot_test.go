package disk

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
)

// TestMappedRoot writes a PC disk whose kernel maps its squashfs root from
// the slot (MapRoot): slot a holds the kernel and cmdline.cfg in a 40 MiB
// FAT filesystem and the root's bytes right after it, at 40 MiB; no
// initrd; cmdline.cfg gives the kernel the root's sectors in the slot
// partition that grub.cfg probes; a root too big for the board's slot
// makes the slot bigger.
func TestMappedRoot(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rootSize int64
		slotMiB  int64
	}{
		{"fits the board's slot", 600000, 80},
		{"a root past the board's slot", 50<<20 + 1, 91},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpec(t, "qemu-x86_64")
			s.MapRoot = true
			root := bytes.Repeat([]byte("squashfs"), int(tc.rootSize/8+1))[:tc.rootSize]
			must(t, os.WriteFile(s.Initramfs, root, 0o644))
			p := filepath.Join(t.TempDir(), "disk.img")
			lay, err := Write(context.Background(), p, s)
			must(t, err)
			fsck(t, p, lay)
			a := partitionNamed(lay, "slot-a")
			if a.Size != tc.slotMiB*mib || partitionNamed(lay, "slot-b").Size != a.Size {
				t.Errorf("slots of %d and %d MiB, want %d", a.Size/mib, partitionNamed(lay, "slot-b").Size/mib, tc.slotMiB)
			}
			slot, err := os.ReadFile(s.SlotImage)
			must(t, err)
			if int64(len(slot)) != a.Size {
				t.Errorf("slot.img is %d bytes, want the slot's %d", len(slot), a.Size)
			}
			if !bytes.Equal(slot[40*mib:40*mib+tc.rootSize], root) || bytes.Count(slot[40*mib+tc.rootSize:], []byte{0}) != len(slot)-int(40*mib+tc.rootSize) {
				t.Error("slot.img does not hold the root at 40 MiB, then zeros")
			}
			raw, err := os.ReadFile(p)
			must(t, err)
			if !bytes.Equal(raw[a.Start:a.Start+a.Size], slot) {
				t.Error("slot a does not hold slot.img")
			}
			d, err := diskfs.Open(p, diskfs.WithOpenMode(diskfs.ReadOnly))
			must(t, err)
			defer d.Close()
			files := readFiles(t, d, a.Index, "/vmlinuz", "/cmdline.cfg")
			want := fmt.Sprintf("# Written by mkimage: this slot's kernel command line.\n"+
				"set args=\"console=ttyS0 mkimage.data=mkimage-data root=/dev/dm-0 ro rootfstype=squashfs init=/init\"\n"+
				"# The root: %d bytes of squashfs at byte %d of this partition, which the kernel maps (device mapper).\n"+
				"set rootmap=\"dm-mod.create=mkimage-root,,,ro,0 %d linear PARTUUID=${slot_partuuid} 81920\"\n",
				tc.rootSize, 40*mib, (tc.rootSize+511)/512)
			if files["/cmdline.cfg"] != want {
				t.Errorf("cmdline.cfg:\n%s\nwant:\n%s", files["/cmdline.cfg"], want)
			}
			fs, err := d.GetFilesystem(a.Index)
			must(t, err)
			if _, err := fs.OpenFile("/initrd.zst", os.O_RDONLY); err == nil {
				t.Error("the slot holds an initrd too")
			}
			esp := readFiles(t, d, partitionNamed(lay, "boot").Index, "/grub/grub.cfg")
			if cfg := esp["/grub/grub.cfg"]; !strings.Contains(cfg, `probe --set=slot_partuuid --part-uuid "(${disk},$2)"`) ||
				!strings.Contains(cfg, `${args} "${rootmap}" mkimage.slot=$1`) {
				t.Errorf("grub.cfg does not pass the slot's root map:\n%s", cfg)
			}
			var boot []string
			for _, f := range lay.BootFiles {
				boot = append(boot, f.Path)
			}
			if !strings.Contains(strings.Join(boot, " "), fmt.Sprintf("slot-a@%d", 40*mib)) {
				t.Errorf("the layout's files do not say where the root is: %v", boot)
			}
		})
	}
}
