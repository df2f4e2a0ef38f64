package fcgiserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WriteFileAtomic replaces the file at path with data so that a crash or a
// power cut at any moment leaves either the old file or the new one, whole,
// and so that once it returns nil the new content survives a power cut.
// Acknowledge a write to a client only after it returned nil.
//
// The steps, and what a crash during each leaves at path:
//
//  1. create a temporary file in path's directory, named ".NAME.tmp-N"
//     (NAME is path's base name, N random digits), with O_EXCL and mode
//     0600: path is untouched;
//  2. write data, set the mode to perm (exactly, the umask is not applied),
//     fsync the file, close it: path is untouched;
//  3. rename the temporary file over path: path holds the old content or
//     the new, never a mix (rename is atomic and the new data is already on
//     disk);
//  4. fsync the directory, which makes the rename itself durable: before
//     this returns, a power cut may still bring back the old content (ext4
//     commits its journal every 5 s, so without this step an acknowledged
//     write can be lost).
//
// A crash during steps 1-2 leaves a stale temporary file, which holds a
// write that was never acknowledged; RemoveTemps deletes them. On any error
// the temporary file is removed and path keeps its old content, except
// when step 4 fails: then path holds the new content but it may not survive
// a power cut, and the error says so. An fsync error is final (the kernel
// may have dropped the unwritten pages): report the write as failed, do not
// retry the sync.
//
// Concurrent writers to the same path each write their own temporary file;
// the last rename wins and readers always see one whole version. The
// directory must exist and itself be durable: /data/apps/NAME ($DATA_DIR) is; a
// directory the app creates needs SyncDir on its parent once.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(osFS{}, path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileAtomicFunc is WriteFileAtomic for content that is produced
// rather than held in memory: write writes it to w (buffered), and an error
// from write abandons the replacement, leaving path as it was.
func WriteFileAtomicFunc(path string, perm os.FileMode, write func(w io.Writer) error) error {
	return writeAtomic(osFS{}, path, perm, write)
}

// SyncDir makes the directory dir's entries (files created, renamed or
// removed in it) durable, as step 4 of WriteFileAtomic does.
func SyncDir(dir string) error { return syncDir(osFS{}, dir) }

// RemoveTemps deletes the temporary files that writes to path interrupted
// by a crash left behind (".NAME.tmp-N" beside it) and returns their names.
// Call it at start, before serving, and only where no other process may be
// writing path at the same time: it would remove that write's file.
func RemoveTemps(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s for stale temporary files: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		if !isTempOf(e.Name(), base) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("removing the stale temporary file %s: %w", p, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// tempPattern is the os.CreateTemp pattern for a temporary file of base.
func tempPattern(base string) string { return "." + base + ".tmp-*" }

// isTempOf reports whether name is a temporary file tempPattern(base) made.
func isTempOf(name, base string) bool {
	digits, ok := strings.CutPrefix(name, "."+base+".tmp-")
	if !ok || digits == "" {
		return false
	}
	return strings.Trim(digits, "0123456789") == ""
}

// fileSystem is the part of package os the writes use; tests record and
// fail its calls.
type fileSystem interface {
	CreateTemp(dir, pattern string) (file, error)
	Rename(from, to string) error
	Remove(name string) error
	OpenDir(name string) (file, error)
}

type file interface {
	io.Writer
	Name() string
	Chmod(os.FileMode) error
	Sync() error
	Close() error
}

type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (file, error) { return os.CreateTemp(dir, pattern) }
func (osFS) Rename(from, to string) error                 { return os.Rename(from, to) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) OpenDir(name string) (file, error)            { return os.Open(name) }

func writeAtomic(fsys fileSystem, path string, perm os.FileMode, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("replacing %q: no file name", path)
	}
	if st, err := os.Lstat(path); err == nil && st.IsDir() {
		// rename(2) would say EEXIST or EISDIR after the whole write.
		return fmt.Errorf("replacing %s: %w", path, &os.PathError{Op: "replace", Path: path, Err: syscall.EISDIR})
	}
	f, err := fsys.CreateTemp(dir, tempPattern(base))
	if err != nil {
		return fmt.Errorf("replacing %s: creating a temporary file: %w", path, err)
	}
	tmp := f.Name()
	if err := fillTemp(f, perm, write); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("replacing %s: writing %s: %w", path, tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	if err := syncDir(fsys, dir); err != nil {
		return fmt.Errorf("replaced %s, but it may not survive a power cut: %w", path, err)
	}
	return nil
}

// fillTemp writes, chmods, syncs and closes f; f is closed on every path.
func fillTemp(f file, perm os.FileMode, write func(io.Writer) error) error {
	bw := bufio.NewWriterSize(f, 32<<10)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(fsys fileSystem, dir string) error {
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("opening the directory %s to sync it: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing the directory %s: %w", dir, err)
	}
	return nil
}
