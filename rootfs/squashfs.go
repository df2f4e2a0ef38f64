package rootfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// Squashfs settings: zstd at level 19 in 128 KiB blocks. Larger blocks
// compress a few percent better, but the kernel keeps a cache of three
// fragment blocks and a decompression buffer of a block each, in RAM
// that the small machines this format is for do not have.
const (
	squashfsBlock = "128K"
	squashfsComp  = "zstd"
	squashfsLevel = "19"
	// squashfsVersion changes when the settings above do, so a cached
	// image made with the old ones is not reused.
	squashfsVersion = "sqfs1-" + squashfsComp + squashfsLevel + "-" + squashfsBlock
)

// errNoMksquashfs: the squashfs root needs squashfs-tools on the build host.
var errNoMksquashfs = errors.New("a squashfs root (the small kernel's) is made with mksquashfs: apt-get install squashfs-tools")

// squashCached writes the records of the cpio archive raw as a squashfs
// image to w (read-only, the same names, modes, owners and contents, every
// time mtime), from the cache when the same archive was made into one
// before. mksquashfs's output is the same bytes for the same input.
func squashCached(ctx context.Context, w io.Writer, raw []byte, mtime uint64, workDir string, cache *Cache) error {
	key := squashfsVersion + "-" + strconv.FormatUint(mtime, 10) + "-" + sha256Hex(raw)
	return writeCached(w, cache, key, func() ([]byte, error) { return squash(ctx, raw, mtime, workDir) })
}

// squash unpacks raw's records into a staging directory under workDir and
// runs mksquashfs on it. Owners and modes go in as pseudo definitions
// (one per entry), so neither the host's umask nor the build's user
// shows in the image, and device nodes need no mknod.
func squash(ctx context.Context, raw []byte, mtime uint64, workDir string) ([]byte, error) {
	tool, err := exec.LookPath("mksquashfs")
	if err != nil {
		return nil, errNoMksquashfs
	}
	dir, err := os.MkdirTemp(workDir, "squashfs-")
	if err != nil {
		return nil, fmt.Errorf("making the squashfs staging directory: %w", err)
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, fmt.Errorf("making the squashfs staging directory: %w", err)
	}
	pseudo, err := stage(raw, root)
	if err != nil {
		return nil, err
	}
	pf := filepath.Join(dir, "pseudo")
	if err := os.WriteFile(pf, pseudo, 0o644); err != nil {
		return nil, fmt.Errorf("writing the squashfs pseudo file: %w", err)
	}
	out := filepath.Join(dir, "root.squashfs")
	t := strconv.FormatUint(mtime, 10)
	cmd := exec.CommandContext(ctx, tool, root, out, "-noappend", "-no-xattrs", "-no-exports",
		"-comp", squashfsComp, "-Xcompression-level", squashfsLevel, "-b", squashfsBlock,
		"-pf", pf, "-root-mode", "755", "-root-uid", "0", "-root-gid", "0",
		"-mkfs-time", t, "-all-time", t, "-quiet", "-no-progress")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("making the squashfs root with %s: %w: %s", tool, err, strings.TrimSpace(string(msg)))
	}
	img, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("reading the squashfs root: %w", err)
	}
	return img, nil
}

// stage writes raw's records below root (directories, files, symlinks)
// and returns the pseudo definitions that give each its mode and owner,
// and that make the device nodes.
func stage(raw []byte, root string) ([]byte, error) {
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("reading back the image's cpio records: %w", err)
	}
	var pseudo bytes.Buffer
	for _, r := range recs {
		name := cleanName(r.Name)
		if name == "" || name == "." {
			continue
		}
		if strings.ContainsAny(name, "\n\r") {
			return nil, fmt.Errorf("%q: a squashfs root cannot hold a name with a line break", name)
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		perm := strconv.FormatUint(r.Mode&0o7777, 8)
		owner := strconv.FormatUint(r.UID, 10) + " " + strconv.FormatUint(r.GID, 10)
		switch r.Mode & cpio.S_IFMT {
		case cpio.S_IFDIR:
			err = os.Mkdir(p, 0o755)
		case cpio.S_IFREG:
			err = writeRecord(p, r)
		case cpio.S_IFLNK:
			var dest []byte
			if dest, err = io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize))); err == nil {
				err = os.Symlink(string(dest), p)
			}
		case cpio.S_IFCHR:
			fmt.Fprintf(&pseudo, "%s c %s %s %d %d\n", quotePseudo(name), perm, owner, r.Rmajor, r.Rminor)
			continue
		default:
			return nil, fmt.Errorf("%s: a squashfs root holds files, directories, symlinks and character devices only", name)
		}
		if err != nil {
			return nil, fmt.Errorf("staging %s for the squashfs root: %w", name, err)
		}
		fmt.Fprintf(&pseudo, "%s m %s %s\n", quotePseudo(name), perm, owner)
	}
	return pseudo.Bytes(), nil
}

func writeRecord(p string, r cpio.Record) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// quotePseudo quotes a name for a mksquashfs pseudo file: in double
// quotes, with " and \ escaped by a backslash (stage refuses line
// breaks, which cannot be quoted).
func quotePseudo(name string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(name) + `"`
}
