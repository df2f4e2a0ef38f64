package flash

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseMountLine(t *testing.T) {
	tests := []struct {
		line string
		want mount
		ok   bool
	}{
		{"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
			mount{"98:0", "/mnt2", "ext3", "/dev/root"}, true},
		{"40 22 0:45 / /srv rw,relatime shared:5 master:2 - btrfs /dev/sdb2 rw,subvol=/",
			mount{"0:45", "/srv", "btrfs", "/dev/sdb2"}, true},
		{"30 22 8:1 / /media/my\\040card\\134x rw - vfat /dev/disk/by-label/A\\040B rw",
			mount{"8:1", "/media/my card\\x", "vfat", "/dev/disk/by-label/A B"}, true},
		{"30 22 8:1 / /m rw - tmpfs none rw", mount{"8:1", "/m", "tmpfs", "none"}, true},
		{"30 22 8:1 / /m rw \\400 - x y z", mount{"8:1", "/m", "x", "y"}, true},
		{"30 22 8:1 / /m\\400 rw - x y z", mount{"8:1", "/m\\400", "x", "y"}, true},
		{"30 22 8:1 / /m rw - ext4", mount{}, false},
		{"30 22 8:1 / /m rw ext4 /dev/sda1 rw", mount{}, false},
		{"30 22 8-1 / /m rw - ext4 /dev/sda1 rw", mount{}, false},
		{"30 22 :1 / /m rw - ext4 /dev/sda1 rw", mount{}, false},
		{"", mount{}, false},
	}
	for _, tt := range tests {
		got, ok := parseMountLine(tt.line)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseMountLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

// escape is the kernel's mangling of mountinfo fields (fs/proc_namespace.c).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(" \t\n\\", s[i]) >= 0 {
			fmt.Fprintf(&b, "\\%03o", s[i])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// FuzzMountinfo: any input parses without panicking, what parses has a
// valid device number, and fields the kernel escaped come back as they were.
func FuzzMountinfo(f *testing.F) {
	f.Add("40 22 0:45 / /srv rw shared:5 - btrfs /dev/sdb2 rw", "/media/my card", "/dev/sdb1", "vfat")
	f.Add("-", "/a\\b", "-", "-")
	f.Fuzz(func(t *testing.T, line, point, source, fstype string) {
		for _, m := range parseMountinfo(line) {
			if !validDev(m.Dev) {
				t.Fatalf("%q: device %q", line, m.Dev)
			}
		}
		if point == "" || source == "" || fstype == "" {
			return
		}
		want := mount{"8:1", point, fstype, source}
		l := fmt.Sprintf("30 22 8:1 / %s rw shared:1 - %s %s rw", escape(point), escape(fstype), escape(source))
		got, ok := parseMountLine(l)
		if !ok || got != want {
			t.Fatalf("%q: got %+v, %v; want %+v", l, got, ok, want)
		}
	})
}
