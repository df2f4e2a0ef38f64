package flash

import (
	"strconv"
	"strings"
)

// mount is one line of /proc/PID/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Dev is the st_dev of the files on the mount ("98:0"): for btrfs and
// other multi-device filesystems an anonymous number (0:NN), so Source (the
// device the filesystem was mounted from) must be looked at too.
type mount struct {
	Dev    string // major:minor
	Point  string // mount point, unescaped
	FSType string
	Source string // unescaped; "none" or a name for virtual filesystems
}

// parseMountinfo parses a mountinfo file; lines it cannot read are skipped
// (a check that finds no mount on them relies on the exclusive open too).
func parseMountinfo(s string) []mount {
	var ms []mount
	for _, line := range strings.Split(s, "\n") {
		if m, ok := parseMountLine(line); ok {
			ms = append(ms, m)
		}
	}
	return ms
}

// parseMountLine reads one line: six fixed fields, optional fields up to a
// lone "-", then the filesystem type and the source. Fields are separated
// by spaces only: the kernel escapes space, tab, newline and backslash,
// and any other byte (a carriage return, a no-break space) is part of a
// name.
func parseMountLine(line string) (mount, bool) {
	f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' })
	if len(f) < 6 || !validDev(f[2]) {
		return mount{}, false
	}
	m := mount{Dev: f[2], Point: unescapeOctal(f[4])}
	for i := 6; i < len(f); i++ {
		if f[i] != "-" {
			continue
		}
		if i+2 >= len(f) {
			return mount{}, false
		}
		m.FSType, m.Source = unescapeOctal(f[i+1]), unescapeOctal(f[i+2])
		return m, true
	}
	return mount{}, false
}

// validDev says s is "major:minor" in decimal.
func validDev(s string) bool {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(a, 10, 32)
	_, err2 := strconv.ParseUint(b, 10, 32)
	return err1 == nil && err2 == nil
}

// unescapeOctal undoes the kernel's \ooo escaping of space, tab, newline
// and backslash in mountinfo and /proc/swaps; other bytes are kept as is.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			n, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return len(s) == 3 && s[0] <= '3' // at most \377
}
