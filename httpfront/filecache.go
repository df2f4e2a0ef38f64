package httpfront

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Cache limits. Files in the image are read-only, so what is learnt about a
// file stays true; on a host the TTL bounds how stale an answer can be.
const (
	defaultStatTTL  = time.Second
	maxCachedFile   = 256 << 10 // bytes of one file kept in memory
	maxCacheBytes   = 64 << 20  // bytes of all files kept in memory
	maxHashedFile   = 16 << 20  // larger files get an ETag from their metadata
	maxCacheEntries = 1 << 16
	maxOpenFiles    = 256 // descriptors of large files kept open per directory
)

// entry is what the front end knows about one path under a directory.
type entry struct {
	checked atomic.Int64 // unix nanos of the last stat
	missing bool         // nothing (readable) at this path
	isDir   bool
	dev     uint64
	ino     uint64
	size    int64
	modTime time.Time
	data    []byte      // the whole file, when small enough
	file    *sharedFile // an open descriptor, for a large file (within maxOpenFiles)

	// Response headers, built once; the slices are never appended to.
	hType, hETag, hLastMod, hLength []string
	etag                            string

	// variants are the precompressed sidecars, indexed like
	// sidecarEncodings; nil where there is none.
	variants [len(sidecarEncodings)]*entry
	hasVar   bool
}

// dirCache caches entries for one directory tree, opened as an os.Root so
// that no lookup can leave it (symlinks included).
type dirCache struct {
	root    *os.Root
	ttl     time.Duration
	entries sync.Map // string -> *entry
	count   atomic.Int64
	bytes   *atomic.Int64 // shared budget of file data in memory
	files   atomic.Int64  // descriptors held by entries
	onOpen  func(*os.File)
}

func newDirCache(dir string, ttl time.Duration, budget *atomic.Int64) (*dirCache, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening directory %s: %w", dir, err)
	}
	return &dirCache{root: root, ttl: ttl, bytes: budget}, nil
}

func (c *dirCache) close() error { return c.root.Close() }

// open opens name under the root and reports it to the test hook.
func (c *dirCache) open(name string) (*os.File, error) {
	f, err := c.root.Open(name)
	if err == nil && c.onOpen != nil {
		c.onOpen(f)
	}
	return f, err
}

// lookup returns the entry for name (relative, "." for the root itself),
// from the cache while it is fresh.
func (c *dirCache) lookup(name string) *entry {
	now := time.Now().UnixNano()
	if v, ok := c.entries.Load(name); ok {
		e := v.(*entry)
		if now-e.checked.Load() < int64(c.ttl) || c.stillValid(name, e) {
			e.checked.Store(now)
			return e
		}
	}
	e := c.load(name, true)
	e.checked.Store(now)
	if c.count.Load() < maxCacheEntries {
		if old, loaded := c.entries.Swap(name, e); !loaded {
			c.count.Add(1)
		} else {
			c.bytes.Add(-old.(*entry).memSize())
			c.dropFiles(old.(*entry))
		}
	} else {
		c.dropFiles(e) // served this once, not kept
	}
	return e
}

func (c *dirCache) stillValid(name string, e *entry) bool {
	st, err := c.root.Stat(name)
	if err != nil {
		return e.missing
	}
	dev, ino := devIno(st)
	return !e.missing && dev == e.dev && ino == e.ino && st.Size() == e.size && st.ModTime().Equal(e.modTime) && st.IsDir() == e.isDir
}

// load reads what is at name: metadata, the content of small files, the
// content hash for the ETag and, when sidecars is set, the .br/.zst/.gz
// siblings.
func (c *dirCache) load(name string, sidecars bool) *entry {
	f, err := c.open(name)
	if err != nil {
		return &entry{missing: true}
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil || !(st.Mode().IsRegular() || st.IsDir()) {
		return &entry{missing: true}
	}
	e := &entry{isDir: st.IsDir(), size: st.Size(), modTime: st.ModTime()}
	e.dev, e.ino = devIno(st)
	if e.isDir {
		return e
	}
	sum, data, err := c.digest(f, e.size)
	if err != nil {
		return &entry{missing: true}
	}
	e.data = data
	if data == nil && c.files.Add(1) <= maxOpenFiles {
		e.file, keep = newSharedFile(f), true
	} else if data == nil {
		c.files.Add(-1)
	}
	e.etag = sum
	e.hType = []string{contentType(name)}
	e.hETag = []string{sum}
	e.hLastMod = []string{e.modTime.UTC().Format(http.TimeFormat)}
	e.hLength = []string{strconv.FormatInt(e.size, 10)}
	if sidecars {
		for i, enc := range sidecarEncodings {
			if v := c.load(name+enc.ext, false); !v.missing && !v.isDir {
				v.hType = e.hType
				e.variants[i], e.hasVar = v, true
			}
		}
	}
	return e
}

// digest returns the strong ETag of f and, for small files, its content.
// Files larger than maxHashedFile get an ETag from inode, size and mtime.
func (c *dirCache) digest(f *os.File, size int64) (string, []byte, error) {
	if size > maxHashedFile {
		st, err := f.Stat()
		if err != nil {
			return "", nil, fmt.Errorf("stat for etag: %w", err)
		}
		_, ino := devIno(st)
		return fmt.Sprintf("\"%x-%x-%x\"", ino, size, st.ModTime().UnixNano()), nil, nil
	}
	h := sha256.New()
	var data []byte
	if size <= maxCachedFile && c.bytes.Add(size) <= maxCacheBytes {
		data = make([]byte, size)
		if _, err := io.ReadFull(f, data); err != nil {
			c.bytes.Add(-size)
			return "", nil, fmt.Errorf("reading %s: %w", f.Name(), err)
		}
		h.Write(data)
	} else {
		if size <= maxCachedFile {
			c.bytes.Add(-size)
		}
		if _, err := io.Copy(h, io.LimitReader(f, size)); err != nil {
			return "", nil, fmt.Errorf("hashing %s: %w", f.Name(), err)
		}
	}
	return "\"" + hex.EncodeToString(h.Sum(nil)[:12]) + "\"", data, nil
}

func devIno(st fs.FileInfo) (uint64, uint64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), s.Ino
	}
	return 0, 0
}

// errChanged means a file changed between lookup and open.
var errChanged = errors.New("file changed while being served")

// openEntry opens the file behind e and checks that it is still the file e
// describes.
func (c *dirCache) openEntry(name string, e *entry) (*os.File, error) {
	f, err := c.open(name)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if dev, ino := devIno(st); dev != e.dev || ino != e.ino || st.Size() != e.size {
		f.Close()
		c.entries.Delete(name)
		return nil, errChanged
	}
	return f, nil
}

// dropFiles gives up the descriptors e and its sidecars hold; requests
// still sending from one keep it open until they are done.
func (c *dirCache) dropFiles(e *entry) {
	for _, x := range append([]*entry{e}, e.variants[:]...) {
		if x != nil && x.file != nil {
			x.file.release()
			c.files.Add(-1)
		}
	}
}

// acquireFile returns an open descriptor of the file behind e: the shared
// one the entry keeps, or a fresh one checked against e. The caller
// releases it.
func (c *dirCache) acquireFile(name string, e *entry) (*sharedFile, error) {
	if e.file != nil && e.file.acquire() {
		return e.file, nil
	}
	f, err := c.openEntry(name, e)
	if err != nil {
		return nil, err
	}
	return newSharedFile(f), nil
}

// sharedFile is an open, read-only file that several requests send from
// at once (sendfile with explicit offsets); the last holder closes it.
type sharedFile struct {
	f    *os.File
	fd   int
	refs atomic.Int32
}

func newSharedFile(f *os.File) *sharedFile {
	s := &sharedFile{f: f, fd: int(f.Fd())}
	s.refs.Store(1)
	return s
}

// acquire takes a reference unless the file is already closed.
func (s *sharedFile) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *sharedFile) release() {
	if s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

// memSize is the file data e and its sidecars keep in memory.
func (e *entry) memSize() int64 {
	n := int64(len(e.data))
	for _, v := range e.variants {
		if v != nil {
			n += int64(len(v.data))
		}
	}
	return n
}
