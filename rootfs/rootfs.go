// Package rootfs assembles the initramfs: the guest programs cross-built for
// the board, the web root, the runtime spec and kernel modules, packed as a
// newc cpio with u-root's pkg/cpio and compressed with zstd. The output is
// reproducible: entries are sorted, owners are root, and every mtime is
// SOURCE_DATE_EPOCH (0 when unset).
package rootfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"
)

// Tree is a host directory copied into the image at Target.
type Tree struct {
	Source string
	Target string
}

// File is literal content placed at Target, or, when Link is set, a
// symlink at Target pointing to Link.
type File struct {
	Target string
	Data   []byte
	Mode   uint64
	Link   string
}

// Options says what goes into the image.
type Options struct {
	GOARCH   string
	Programs []Program
	Trees    []Tree
	Files    []File
	// Perms set owners and modes, applied after everything is in place.
	Perms []Perm
	// HostFiles are host paths (files, symlinks, directories) copied to
	// the same path in the image, e.g. /usr/share/zoneinfo/UTC.
	HostFiles []string
	// MTime is the modification time of every entry (SOURCE_DATE_EPOCH).
	MTime uint64
	// EndMarker, when set, is a file written as the archive's last
	// record: a guest that finds it knows the kernel unpacked everything
	// (out of memory, the kernel stops unpacking and boots what it has).
	EndMarker string
	// WorkDir holds build outputs; it must exist.
	WorkDir string
	// GoEnv is added to the go command's environment (e.g. GOPROXY).
	GoEnv []string
	// Cache, when set, keeps linked Go programs and the compressed
	// archive, so that a rebuild with nothing changed does neither again.
	Cache *Cache
	// Squashfs writes the image as a squashfs file system (for a kernel
	// that mounts its initrd as a read-only root) instead of a zstd cpio.
	Squashfs bool
}

// Entry reports what one program or tree added to the image.
type Entry struct {
	Target string
	Bytes  int64
}

// Result describes a written initramfs.
type Result struct {
	Entries []Entry
	CPIO    int64 // uncompressed size
}

// Build writes the compressed initramfs to w.
func Build(ctx context.Context, o Options, w io.Writer) (Result, error) {
	img := newImage()
	var res Result
	for _, p := range o.Programs {
		img.from = "program " + p.Name
		n, err := img.addProgram(ctx, p, o.GOARCH, o.WorkDir, o.GoEnv, o.Cache)
		if err != nil {
			return res, err
		}
		res.Entries = append(res.Entries, Entry{Target: p.Target, Bytes: n})
	}
	for _, h := range o.HostFiles {
		img.from = "host file " + h
		n, err := img.addHostPath(h)
		if err != nil {
			return res, err
		}
		res.Entries = append(res.Entries, Entry{Target: h, Bytes: n})
	}
	for _, t := range o.Trees {
		img.from = "directory " + t.Source
		n, err := img.addTree(t.Source, t.Target)
		if err != nil {
			return res, err
		}
		res.Entries = append(res.Entries, Entry{Target: t.Target, Bytes: n})
	}
	for _, f := range o.Files {
		img.from = "the tool's " + f.Target
		if f.Link != "" {
			img.add(cpio.Symlink(f.Target, f.Link))
			continue
		}
		img.add(cpio.StaticRecord(f.Data, cpio.Info{Name: f.Target, Mode: cpio.S_IFREG | f.Mode}))
	}
	img.from = "the image's base"
	img.base()
	if img.err != nil {
		return res, img.err
	}
	if err := applyPerms(img.recs, o.Perms); err != nil {
		return res, err
	}
	raw, err := img.write(o.MTime, o.EndMarker)
	if err != nil {
		return res, err
	}
	res.CPIO = int64(len(raw))
	if o.Squashfs {
		return res, squashCached(ctx, w, raw, o.MTime, o.WorkDir, o.Cache)
	}
	return res, compressCached(w, raw, o.Cache)
}

// compressCached writes raw compressed to w, from the cache when the same
// archive was compressed before.
func compressCached(w io.Writer, raw []byte, cache *Cache) error {
	return writeCached(w, cache, "zst1-"+sha256Hex(raw), func() ([]byte, error) {
		var buf bytes.Buffer
		err := compress(&buf, raw)
		return buf.Bytes(), err
	})
}

// writeCached writes the cache's bytes for key to w, or, when it has none,
// what produce returns, keeping them under key.
func writeCached(w io.Writer, cache *Cache, key string, produce func() ([]byte, error)) error {
	if p, ok := cache.Get(key); ok {
		if data, err := os.ReadFile(p); err == nil {
			_, err = w.Write(data)
			return err
		}
	}
	data, err := produce()
	if err != nil {
		return err
	}
	if err := cache.Put(key, data); err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// image collects records by path; directories are created 0755 as needed.
// from names the source being added, origin what added each record, and
// err the first time two sources put something at the same path.
type image struct {
	recs   map[string]cpio.Record
	origin map[string]string
	from   string
	err    error
}

func newImage() *image {
	return &image{recs: map[string]cpio.Record{}, origin: map[string]string{}}
}

// addProgram builds or copies one program; a prebuilt dynamic executable
// brings its loader and shared libraries. It returns the bytes added.
func (im *image) addProgram(ctx context.Context, p Program, goarch, work string, env []string, cache *Cache) (int64, error) {
	src := p.File
	if p.Package != "" {
		var err error
		if src, err = buildGo(ctx, p, goarch, work, env, cache); err != nil {
			return 0, err
		}
	}
	total, err := im.addFile(p.Target, src, 0o755)
	for _, a := range p.Aliases {
		im.add(cpio.Symlink(a, "/"+cleanName(p.Target)))
	}
	if err != nil || p.Package != "" {
		return total, err
	}
	libs, err := sharedLibs(src, goarch)
	if err != nil {
		return total, err
	}
	for _, l := range libs {
		if _, ok := im.recs[cleanName(l)]; ok {
			continue
		}
		n, err := im.addHostPath(l)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func cleanName(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

func (im *image) add(r cpio.Record) {
	r.Name = cleanName(r.Name)
	im.mkdirs(path.Dir(r.Name))
	im.conflict(r.Name, r)
	if old, ok := im.recs[r.Name]; ok && old.Mode&cpio.S_IFMT == cpio.S_IFDIR && r.Mode&cpio.S_IFMT == cpio.S_IFDIR {
		return
	}
	im.recs[r.Name] = r
	im.origin[r.Name] = im.from
}

func (im *image) mkdirs(dir string) {
	for d := dir; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if _, ok := im.recs[d]; ok {
			return
		}
		im.recs[d] = cpio.Directory(d, 0o755)
		im.origin[d] = im.from
	}
}

// base adds what every image needs: mount points and the two device nodes
// the kernel and the Go runtime need before devtmpfs is mounted.
func (im *image) base() {
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "etc", "bin", "data"} {
		if _, ok := im.recs[d]; !ok {
			im.recs[d] = cpio.Directory(d, 0o755)
		}
	}
	im.recs["tmp"] = cpio.Directory("tmp", 0o1777)
	im.add(cpio.CharDev("dev/console", 0o600, 5, 1))
	im.add(cpio.CharDev("dev/null", 0o666, 1, 3))
}

func (im *image) addFile(target, src string, mode uint64) (int64, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return 0, fmt.Errorf("adding %s to the image: %w", target, err)
	}
	im.add(cpio.StaticRecord(data, cpio.Info{Name: target, Mode: cpio.S_IFREG | mode}))
	return int64(len(data)), nil
}

// addTree copies a host directory. Symlinks are kept as symlinks; modes keep
// only the executable bit, so output does not depend on the host's umask.
func (im *image) addTree(src, target string) (int64, error) {
	var total int64
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		name := path.Join(target, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			im.add(cpio.Directory(name, 0o755))
		case d.Type()&os.ModeSymlink != 0:
			dest, err := os.Readlink(p)
			if err != nil {
				return err
			}
			im.add(cpio.Symlink(name, dest))
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := uint64(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			n, err := im.addFile(name, p, mode)
			total += n
			return err
		default:
			return fmt.Errorf("%s: only files, directories and symlinks can go into the image", p)
		}
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("copying %s into the image at %s: %w", src, target, err)
	}
	return total, nil
}

// write serialises the records sorted by name (parents sort before their
// children), with fixed metadata.
func (im *image) write(mtime uint64, endMarker string) ([]byte, error) {
	end := ""
	if endMarker != "" {
		end = cleanName(endMarker)
		if _, ok := im.recs[end]; ok {
			return nil, fmt.Errorf("%s, the end marker, is also put into the image by %s", endMarker, im.origin[end])
		}
		im.mkdirs(path.Dir(end))
	}
	names := make([]string, 0, len(im.recs)+1)
	for n := range im.recs {
		names = append(names, n)
	}
	sort.Strings(names)
	if end != "" {
		im.recs[end] = cpio.StaticRecord([]byte(fmt.Sprintf("%d records\n", len(names)+1)), cpio.Info{Name: end, Mode: cpio.S_IFREG | 0o444})
		names = append(names, end)
	}
	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	for i, n := range names {
		uid, gid := im.recs[n].UID, im.recs[n].GID
		r := cpio.MakeReproducible(im.recs[n])
		r.UID, r.GID = uid, gid
		r.Ino = uint64(i + 1)
		r.MTime = mtime
		if err := w.WriteRecord(r); err != nil {
			return nil, fmt.Errorf("writing cpio record %s: %w", n, err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return nil, fmt.Errorf("writing cpio trailer: %w", err)
	}
	return buf.Bytes(), nil
}

func compress(w io.Writer, raw []byte) error {
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true), zstd.WithWindowSize(4<<20))
	if err != nil {
		return fmt.Errorf("starting zstd: %w", err)
	}
	if _, err := enc.Write(raw); err != nil {
		enc.Close()
		return fmt.Errorf("compressing initramfs: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("compressing initramfs: %w", err)
	}
	return nil
}
