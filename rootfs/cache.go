package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Cache keeps build outputs by key (a hex digest of everything that
// decides their bytes) in a directory, bounded in bytes: a Put that
// takes it past Max removes the least recently used entries first. It
// holds linked programs and compressed archives, so that a rebuild with
// nothing changed neither links nor compresses again. Entries are
// written to a temporary name and renamed, so builds running at once
// see whole files or none.
type Cache struct {
	Dir string
	Max int64 // bytes
}

// DefaultCacheMax bounds a build cache: a few images' programs and
// archives.
const DefaultCacheMax = 512 << 20

// path is key's file; Get and Put refuse keys that are not plain names.
func (c *Cache) path(key string) (string, error) {
	if key == "" || filepath.Base(key) != key || key[0] == '.' {
		return "", fmt.Errorf("build cache: bad key %q", key)
	}
	return filepath.Join(c.Dir, key), nil
}

// Get returns key's file, marking it used, if the cache has it.
func (c *Cache) Get(key string) (string, bool) {
	if c == nil {
		return "", false
	}
	p, err := c.path(key)
	if err != nil {
		return "", false
	}
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		return "", false
	}
	return p, true
}

// Put stores data under key and trims the cache to Max.
func (c *Cache) Put(key string, data []byte) error {
	if c == nil {
		return nil
	}
	p, err := c.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	f, err := os.CreateTemp(c.Dir, ".put-*")
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("build cache: writing %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("build cache: %w", err)
	}
	return c.trim()
}

// trim removes the least recently used entries until the cache holds at
// most Max bytes (leftover temporary files older than an hour too).
func (c *Cache) trim() error {
	ents, err := os.ReadDir(c.Dir)
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var all []entry
	var total int64
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		p := filepath.Join(c.Dir, e.Name())
		if e.Name()[0] == '.' {
			if time.Since(info.ModTime()) > time.Hour {
				os.Remove(p)
			}
			continue
		}
		all = append(all, entry{p, info.Size(), info.ModTime()})
		total += info.Size()
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.Before(all[j].used) })
	for _, e := range all {
		if total <= c.Max {
			break
		}
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("build cache: %w", err)
		}
		total -= e.size
	}
	return nil
}
