package initsvc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mkimage/mkimage/spec"
)

// appDataDirs makes each pool's directory on /data (their parent is root's
// and only traversable; each app's own is its user's, mode 0700), first
// moving legacy, an older image's single app directory, to the first
// app's.
func appDataDirs(pools []spec.Pool, legacy string) error {
	var errs []error
	for i, p := range pools {
		root := filepath.Dir(p.DataDir)
		if err := os.MkdirAll(root, 0o711); err != nil {
			return fmt.Errorf("making %s: %w", root, err)
		}
		if err := os.Chmod(root, 0o711); err != nil {
			return fmt.Errorf("making %s: %w", root, err)
		}
		if i == 0 {
			if err := moveLegacy(legacy, p.DataDir); err != nil {
				errs = append(errs, err)
			}
		}
		if err := ownedDir(p.DataDir, p.UID); err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", p.Name, err))
		}
		// The directories just made are durable before an app writes in
		// them, so an app's own fsyncs are all it needs.
		errs = append(errs, syncDir(root), syncDir(filepath.Dir(root)))
	}
	return errors.Join(errs...)
}

// syncDir makes dir's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// owner is the uid that owns the file st describes.
func owner(st fs.FileInfo) int {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid)
	}
	return -1
}

// moveLegacy renames old to dir when old exists and dir does not.
func moveLegacy(old, dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	st, err := os.Lstat(old)
	if err != nil || !st.IsDir() {
		return nil
	}
	if err := os.Rename(old, dir); err != nil {
		return fmt.Errorf("moving %s to %s: %w", old, dir, err)
	}
	return nil
}

// ownedDir makes dir a directory of uid's alone. When it exists with
// another owner (the app moved in the config's order, so its uid changed),
// everything in it is given to uid first, the directory itself last, so an
// interrupted change is finished at the next boot. Symlinks are not
// followed.
func ownedDir(dir string, uid int) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("making %s: %w", dir, err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is a %v, not a directory", dir, st.Mode().Type())
	}
	if owner(st) != uid {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == dir {
				return err
			}
			return os.Lchown(p, uid, uid)
		})
		if err != nil {
			return fmt.Errorf("giving %s to uid %d: %w", dir, uid, err)
		}
	}
	if err := os.Lchown(dir, uid, uid); err != nil {
		return fmt.Errorf("giving %s to uid %d: %w", dir, uid, err)
	}
	return os.Chmod(dir, 0o700)
}

// makeSpoolDir makes the front end's directory for spooled request
// bodies (spec.FrontSpoolDir) on /data, so that uploads of unknown length
// do not fill RAM when there is a data partition: owned by the front
// end's user uid, mode 0700, so the app cannot read other clients'
// uploads. What a crash left in it is removed.
func makeSpoolDir(dir string, uid int) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("making the spool directory: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking the spool directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("spool directory %s is a %v, not a directory", dir, st.Mode().Type())
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("emptying the spool directory: %w", err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("emptying the spool directory: %w", err)
		}
	}
	if err := os.Lchown(dir, uid, uid); err != nil {
		return fmt.Errorf("giving the spool directory to uid %d: %w", uid, err)
	}
	return os.Chmod(dir, 0o700)
}

// makeACMEDir makes the front end's ACME state directory
// (spec.ACMEStorageDir: certificates, their keys, the ACME account) on
// /data, owned by the front end's user uid, mode 0700: kept across
// reboots and updates, readable by nobody else. Its parent stays root's.
func makeACMEDir(dir string, uid int) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("making the parent of %s: %w", dir, err)
	}
	return ownedDir(dir, uid)
}
