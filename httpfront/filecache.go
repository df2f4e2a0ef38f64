package httpfront

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Cache limits. Files in the image are read-only, so what is learnt about a
// file stays true; on a host the TTL bounds how stale an answer can be.
// Bytes kept are bounded by the budget (filecache_budget.go).
const (
	defaultStatTTL = time.Second
	maxCachedFile  = 256 << 10 // bytes of one file kept in memory
	maxHashedFile  = 16 << 20  // larger files get an ETag from their metadata
	maxOpenFiles   = 256       // descriptors of large files kept open per directory
)

// entry is what the front end knows about one path under a directory.
type entry struct {
	checked atomic.Int64 // unix nanos of the last stat
	used    atomic.Int64 // unix nanos of the last use, within usedGrain
	cost    int64        // bytes charged to the budget, key included
	missing bool         // nothing (readable) at this path
	isDir   bool
	partial bool // some of it could not be charged: not to be cached
	dev     uint64
	ino     uint64
	size    int64
	modTime time.Time
	data    []byte      // the whole file, when small enough
	file    *sharedFile // an open descriptor, for a large file (within maxOpenFiles)

	// Response headers, built once; the slices are never appended to.
	hType, hLastMod, hLength []string
	// resp is the status line and fields of a plain 200 answer with the
	// whole file (prepared), for a main entry held in memory whose bytes
	// the budget had room for; nil otherwise. Never appended to.
	resp []byte
	// tag is the strong ETag: set by load for a file held in memory (or
	// empty), on first use (etagOf, never in an event loop) for the others.
	tag    atomic.Pointer[etagValue]
	hashMu sync.Mutex // one hash of a large file at a time

	// variants are the precompressed sidecars, indexed like
	// sidecarEncodings; nil where there is none.
	variants [len(sidecarEncodings)]*entry
	hasVar   bool
}

// etagValue is an ETag and its header value.
type etagValue struct {
	etag string
	h    []string
}

func newETag(etag string) *etagValue { return &etagValue{etag: etag, h: []string{etag}} }

// dirCache caches entries for one directory tree, opened as an os.Root so
// that no lookup can leave it (symlinks included).
type dirCache struct {
	root     *os.Root
	rootPath string // the root's path as the kernel names it (/proc/self/fd)
	ttl      time.Duration
	entries  sync.Map // string -> *entry
	budget   *cacheBudget
	files    atomic.Int64 // descriptors held by entries
	onOpen   func(*os.File)
}

func newDirCache(dir string, ttl time.Duration, budget *cacheBudget) (*dirCache, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening directory %s: %w", dir, err)
	}
	c := &dirCache{root: root, ttl: ttl, budget: budget}
	d, err := root.Open(".")
	if err == nil {
		c.rootPath, err = fdPath(d)
		d.Close()
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("finding the real path of %s: %w", dir, err)
	}
	budget.register(c)
	return c, nil
}

// fdPath is the path the kernel has for f's descriptor.
func fdPath(f *os.File) (string, error) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return "", fmt.Errorf("reading the path of %s: %w", f.Name(), err)
	}
	return p, nil
}

// close gives up the cache's descriptors (the directory's and the large
// files' the entries keep; a request still sending from one keeps it until
// it is done), so a reload does not leave them to the garbage collector.
func (c *dirCache) close() error {
	c.entries.Range(func(k, v any) bool {
		if _, loaded := c.entries.LoadAndDelete(k); loaded {
			c.dropFiles(v.(*entry))
		}
		return true
	})
	return c.root.Close()
}

// open opens name under the root and reports it to the test hook.
func (c *dirCache) open(name string) (*os.File, error) {
	f, err := c.root.Open(name)
	if err == nil && c.onOpen != nil {
		c.onOpen(f)
	}
	return f, err
}

// lookup returns the entry for name (relative, "." for the root itself),
// from the cache while it is fresh. It reads at most a small file and its
// sidecars (maxCachedFile each): never a large file, so that it may run
// in an event loop.
func (c *dirCache) lookup(name string) *entry { return c.lookupAt(name, time.Now().UnixNano()) }

// lookupAt is lookup at the time now (unix nanoseconds).
func (c *dirCache) lookupAt(name string, now int64) *entry {
	if v, ok := c.entries.Load(name); ok {
		e := v.(*entry)
		if now-e.checked.Load() < int64(c.ttl) || c.revalidate(name, e, now) {
			e.touch(now)
			return e
		}
	}
	e := c.load(name, true, now)
	c.insert(name, e, now)
	return e
}

// revalidate reports whether e still describes what is at name, and
// notes when that was checked.
func (c *dirCache) revalidate(name string, e *entry, now int64) bool {
	if !c.stillValid(name, e) {
		return false
	}
	e.checked.Store(now)
	return true
}

// insert caches e under a copy of name (a request's path must not keep
// its request alive) when the budget has room for it.
func (c *dirCache) insert(name string, e *entry, now int64) {
	e.checked.Store(now)
	e.used.Store(now)
	key := int64(len(name))
	if e.missing || e.isDir {
		key += entryOverhead // files were charged for it by load
	}
	if e.partial || !c.budget.reserve(e.kind(), key, now) {
		c.budget.release(e.kind(), e.cost)
		e.cost = 0
		c.dropFiles(e) // served this once, not kept
		return
	}
	e.cost += key
	if old, loaded := c.entries.Swap(strings.Clone(name), e); loaded {
		c.discard(old.(*entry))
	}
}

// remove takes e out of the cache if it is still there under key.
func (c *dirCache) remove(key string, e *entry) {
	if c.entries.CompareAndDelete(key, e) {
		c.discard(e)
	}
}

// discard gives back what an entry no longer in the cache held.
func (c *dirCache) discard(e *entry) {
	c.budget.release(e.kind(), e.cost)
	c.dropFiles(e)
}

func (c *dirCache) stillValid(name string, e *entry) bool {
	st, err := c.root.Stat(name)
	if err != nil {
		return e.missing
	}
	dev, ino := devIno(st)
	return !e.missing && dev == e.dev && ino == e.ino && st.Size() == e.size && st.ModTime().Equal(e.modTime) && st.IsDir() == e.isDir
}

// load reads what is at name: metadata, the content and ETag of small
// files and, when sidecars is set, the .br/.zst/.gz siblings. What it
// keeps in memory is charged to the budget (entry.cost); what the budget
// has no room for is read, hashed and marked partial.
func (c *dirCache) load(name string, sidecars bool, now int64) *entry {
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
	if err != nil || !(st.Mode().IsRegular() || st.IsDir()) || c.hiddenTarget(f) {
		return &entry{missing: true}
	}
	e := &entry{isDir: st.IsDir(), size: st.Size(), modTime: st.ModTime()}
	e.dev, e.ino = devIno(st)
	if e.isDir {
		return e
	}
	if err := c.readSmall(f, e, now); err != nil {
		return &entry{missing: true}
	}
	if e.size > maxCachedFile && c.files.Add(1) <= maxOpenFiles {
		e.file, keep = newSharedFile(f), true
	} else if e.size > maxCachedFile {
		c.files.Add(-1)
	}
	e.hType = []string{contentType(name)}
	e.hLastMod = []string{e.modTime.UTC().Format(http.TimeFormat)}
	e.hLength = []string{strconv.FormatInt(e.size, 10)}
	if sidecars {
		c.prepare(e, now)
		c.loadSidecars(name, e, now)
	}
	return e
}

// prepare builds e.resp for a file held in memory, charging its bytes to
// the budget (left out when there is no room: the answer is then built
// per request). Sidecars get none: their Content-Type is the main file's.
func (c *dirCache) prepare(e *entry, now int64) {
	t := e.tag.Load()
	if e.data == nil || e.partial || t == nil {
		return
	}
	b := make([]byte, 0, preparedLen(e, t))
	b = append(b, "HTTP/1.1 200 OK\r\nEtag: "...)
	b = append(b, fieldOut(t.etag)...)
	b = append(b, "\r\nLast-Modified: "...)
	b = append(b, e.hLastMod[0]...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, fieldOut(e.hType[0])...)
	b = append(b, "\r\nAccept-Ranges: bytes\r\nContent-Length: "...)
	b = append(b, e.hLength[0]...)
	b = append(b, "\r\n"...)
	if !c.budget.reserve(kindFound, int64(cap(b)), now) {
		return
	}
	e.resp = b
	e.cost += int64(cap(b))
}

// preparedLen is the length of e's prepared answer header.
func preparedLen(e *entry, t *etagValue) int {
	return len("HTTP/1.1 200 OK\r\nEtag: \r\nLast-Modified: \r\nContent-Type: \r\nAccept-Ranges: bytes\r\nContent-Length: \r\n") +
		len(t.etag) + len(e.hLastMod[0]) + len(e.hType[0]) + len(e.hLength[0])
}

// loadSidecars adds the precompressed siblings of the file e at name.
func (c *dirCache) loadSidecars(name string, e *entry, now int64) {
	for i, enc := range sidecarEncodings {
		v := c.load(name+enc.ext, false, now)
		if v.missing || v.isDir {
			continue
		}
		v.hType = e.hType
		e.variants[i], e.hasVar = v, true
		e.cost, v.cost = e.cost+v.cost, 0
		e.partial = e.partial || v.partial
	}
}

// readSmall charges e for itself and, for a small file, reads it into
// memory and sets its ETag; a small file the budget has no room for is
// hashed without being kept (e.partial).
func (c *dirCache) readSmall(f *os.File, e *entry, now int64) error {
	if e.size > maxCachedFile {
		e.partial = !c.budget.reserve(kindFound, entryOverhead+fileOverhead, now)
		if !e.partial {
			e.cost = entryOverhead + fileOverhead
		}
		return nil
	}
	if !c.budget.reserve(kindFound, entryOverhead+e.size, now) {
		e.partial = true
		sum, err := hashFile(io.NewSectionReader(f, 0, e.size))
		e.tag.Store(newETag(sum))
		return err
	}
	e.cost = entryOverhead + e.size
	data := make([]byte, e.size)
	if _, err := io.ReadFull(f, data); err != nil {
		c.budget.release(kindFound, e.cost)
		return fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	e.data = data
	sum, _ := hashFile(bytes.NewReader(data))
	e.tag.Store(newETag(sum))
	return nil
}

// hashFile returns the strong ETag of what r holds.
func hashFile(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("hashing: %w", err)
	}
	return "\"" + hex.EncodeToString(h.Sum(nil)[:12]) + "\"", nil
}

// etagOf returns the ETag of the file behind e: for a large file, the
// first call hashes it (up to maxHashedFile; beyond, inode, size and mtime
// make the tag). Large files are never served by an event loop, so the
// hash is read by the request's own goroutine.
func (c *dirCache) etagOf(name string, e *entry) (*etagValue, error) {
	if t := e.tag.Load(); t != nil {
		return t, nil
	}
	e.hashMu.Lock()
	defer e.hashMu.Unlock()
	if t := e.tag.Load(); t != nil {
		return t, nil
	}
	var t *etagValue
	if e.size > maxHashedFile {
		t = newETag(fmt.Sprintf("\"%x-%x-%x\"", e.ino, e.size, e.modTime.UnixNano()))
	} else {
		sf, err := c.acquireFile(name, e)
		if err != nil {
			return nil, err
		}
		defer sf.release()
		sum, err := hashFile(io.NewSectionReader(sf.f, 0, e.size))
		if err != nil {
			return nil, fmt.Errorf("hashing %s: %w", name, err)
		}
		t = newETag(sum)
	}
	e.tag.Store(t)
	return t, nil
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
		c.remove(name, e)
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
