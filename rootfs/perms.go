package rootfs

import (
	"fmt"
	"path"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// Perm sets the owner and, when Mode is not 0, the permission bits of the
// entry at Path and of everything under it. A directory whose mode grants r
// to someone also grants them x, as chmod's X does. Later Perms win.
type Perm struct {
	Path     string
	UID, GID uint64
	Mode     uint64 // permission bits (0o7777); 0 keeps the entry's own
}

// applyPerms returns the records with the Perms applied; a Perm that names
// nothing in the image is an error (a typo would otherwise leave a secret
// readable).
func applyPerms(recs map[string]cpio.Record, perms []Perm) error {
	for _, p := range perms {
		name := cleanName(p.Path)
		hit := false
		for n, r := range recs {
			if n != name && !strings.HasPrefix(n, name+"/") {
				continue
			}
			hit = true
			r.UID, r.GID = p.UID, p.GID
			if p.Mode != 0 {
				r.Mode = withPerm(r.Mode, p.Mode)
			}
			recs[n] = r
		}
		if !hit {
			return fmt.Errorf("setting permissions of %s: nothing in the image at that path", path.Clean("/"+p.Path))
		}
	}
	return nil
}

// withPerm replaces the permission bits of mode; symlinks keep theirs.
func withPerm(mode, perm uint64) uint64 {
	switch mode & cpio.S_IFMT {
	case cpio.S_IFLNK:
		return mode
	case cpio.S_IFDIR:
		perm |= (perm & 0o444) >> 2 // r grants x on a directory
	}
	return mode&^0o7777 | perm&0o7777
}

// conflict records that two different sources put something at name; the
// build fails with it (an app must not replace the tool's own programs, and
// one host file must not silently shadow another).
func (im *image) conflict(name string, r cpio.Record) {
	old, ok := im.recs[name]
	if !ok {
		return
	}
	if old.Mode&cpio.S_IFMT == cpio.S_IFDIR && r.Mode&cpio.S_IFMT == cpio.S_IFDIR {
		return
	}
	if prev := im.origin[name]; prev != im.from && im.err == nil {
		im.err = fmt.Errorf("/%s is put into the image twice: by %s and by %s", name, prev, im.from)
	}
}
