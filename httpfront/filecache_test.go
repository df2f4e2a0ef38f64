package httpfront

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/mkimage/mkimage/spec"
)

// cacheFront is a front end on root whose cache budgets are limits
// (found, missing).
func cacheFront(t *testing.T, root string, ttl time.Duration, limits [2]int64) *Front {
	t.Helper()
	f := newFront(t, spec.Front{Root: root}, Options{StatTTL: ttl})
	f.budget.limits = limits
	return f
}

// checkBudget checks that the budget's accounts are within their limits
// and equal to what the cached entries are charged.
func checkBudget(t *testing.T, b *cacheBudget) {
	t.Helper()
	var sum [2]int64
	for _, c := range b.caches {
		c.entries.Range(func(k, v any) bool {
			e := v.(*entry)
			sum[e.kind()] += e.cost
			if e.cost < int64(len(k.(string)))+entryOverhead {
				t.Errorf("entry %.40q charged %d bytes, less than its key and overhead", k, e.cost)
			}
			return true
		})
	}
	for kind := range sum {
		used := b.used[kind].Load()
		if used != sum[kind] || used > b.limit(kind) {
			t.Fatalf("kind %d: %d bytes used, entries charged %d, limit %d", kind, used, sum[kind], b.limit(kind))
		}
	}
}

// TestCacheBytesBounded: missing paths (long and short), directories and
// files only ever keep their budgets' bytes, whatever is asked for; the
// accounts match the entries.
func TestCacheBytesBounded(t *testing.T) {
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("d%d/f%d.txt", i%7, i)] = strings.Repeat("x", 1000+i)
	}
	files["big.bin"] = strings.Repeat("b", maxCachedFile+1)
	limits := [2]int64{64 << 10, 16 << 10}
	f := cacheFront(t, tree(t, files), time.Hour, limits)
	c := f.root.cache
	long := strings.Repeat("/abcdefgh", 400)
	for i := range 3000 {
		name := fmt.Sprintf("missing/%d", i)
		if i%3 == 0 {
			name += long
		}
		if e := c.lookup(name); !e.missing {
			t.Fatalf("%s: found", name)
		}
		if i%97 == 0 {
			checkBudget(t, &f.budget)
		}
	}
	for i := range 300 {
		name := fmt.Sprintf("d%d/f%d.txt", i%7, i)
		if e := c.lookup(name); e.missing || len(e.data) != 1000+i {
			t.Fatalf("%s: missing %v, %d bytes", name, e.missing, len(e.data))
		}
		c.lookup("big.bin")
		checkBudget(t, &f.budget)
	}
	if n := cachedEntries(c); n < 10 {
		t.Errorf("only %d entries cached", n)
	}
	if e, ok := c.entries.Load("big.bin"); !ok || e.(*entry).missing {
		t.Errorf("the large file used on every round was evicted")
	}
}

// TestCacheKeysOwnTheirBytes: a cached path does not point into the
// request it came from (one missing path kept 19 KB of head alive).
func TestCacheKeysOwnTheirBytes(t *testing.T) {
	f := cacheFront(t, tree(t, map[string]string{"a.txt": "a"}), time.Hour, [2]int64{})
	heads := []string{
		"GET /nothing-here HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 16<<10) + "\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	var spans [][2]uintptr // where each parsed head's copy lies
	for _, head := range heads {
		r, ok := parseForTest(t, []byte(head))
		if !ok {
			t.Fatalf("%q not parsed", head)
		}
		start := uintptr(unsafe.Pointer(unsafe.StringData(r.RequestURI))) - uintptr(len("GET "))
		spans = append(spans, [2]uintptr{start, start + uintptr(len(head))})
		f.ServeHTTP(recorder(), r)
	}
	n := 0
	f.root.cache.entries.Range(func(k, _ any) bool {
		n++
		key := k.(string)
		p := uintptr(unsafe.Pointer(unsafe.StringData(key)))
		for _, sp := range spans {
			if p >= sp[0] && p < sp[1] {
				t.Errorf("key %q points into a request's bytes", key)
			}
		}
		return true
	})
	if n != 2 {
		t.Errorf("%d entries cached, want 2", n)
	}
}

// parseForTest parses head as the fast path does (its strings share the
// head's bytes).
func parseForTest(t *testing.T, head []byte) (*http.Request, bool) {
	t.Helper()
	c := &fastConn{hdr: map[string][]string{}, tmpl: requestTemplate(nil)}
	return c.parse(head)
}

// TestCacheMissingExpire: a missing path is looked at again after the TTL
// and leaves the cache at the next sweep once expired.
func TestCacheMissingExpire(t *testing.T) {
	root := tree(t, map[string]string{"a.txt": "a"})
	const ttl = 20 * time.Millisecond
	f := cacheFront(t, root, ttl, [2]int64{})
	c := f.root.cache
	if !c.lookup("late.txt").missing {
		t.Fatal("late.txt found before it was written")
	}
	writeFile(t, filepath.Join(root, "late.txt"), "here")
	time.Sleep(2 * ttl)
	if e := c.lookup("late.txt"); e.missing || string(e.data) != "here" {
		t.Fatalf("late.txt after the TTL: missing %v %q", e.missing, e.data)
	}
	c.lookup("gone.txt")
	time.Sleep(2 * ttl)
	f.budget.mu.Lock()
	f.budget.sweep(kindGone, time.Now().UnixNano())
	f.budget.mu.Unlock()
	if _, ok := c.entries.Load("gone.txt"); ok {
		t.Error("an expired missing path survived a sweep")
	}
	checkBudget(t, &f.budget)
}

// TestCacheRevalidatesUnderLoad: a file asked for more often than the TTL
// is still checked every TTL (hits used to push the check back for good).
func TestCacheRevalidatesUnderLoad(t *testing.T) {
	root := tree(t, map[string]string{"a.txt": "one"})
	const ttl = 30 * time.Millisecond
	f := cacheFront(t, root, ttl, [2]int64{})
	do(t, f, "GET", "/a.txt", nil)
	writeFile(t, filepath.Join(root, "a.txt"), "two!")
	const wait = 5 * time.Second // the TTL is 30 ms: a wide margin for a busy machine
	for start := time.Now(); time.Since(start) < wait; time.Sleep(ttl / 10) {
		if do(t, f, "GET", "/a.txt", nil).Body.String() == "two!" {
			return
		}
	}
	t.Fatalf("a.txt changed and was asked for every %v: still the old content after %v", ttl/10, wait)
}

// TestCacheEntryCost: entryOverhead covers what an entry really costs on
// the heap (map node included), for missing paths and small files.
func TestCacheEntryCost(t *testing.T) {
	const n, large = 2000, 200
	files := map[string]string{}
	for i := range n {
		files["f"+strconv.Itoa(i)] = "0123456789"
	}
	root := tree(t, files)
	for i := range large { // sparse: large files cost no disk
		if err := os.Truncate(filepath.Join(root, "f"+strconv.Itoa(i)), maxCachedFile+1); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		what     string
		from, to int
		prefix   string
	}{{"missing", 0, n, "m"}, {"large file", 0, large, "f"}, {"small file", large, n, "f"}} {
		f := cacheFront(t, root, time.Hour, [2]int64{1 << 30, 1 << 30})
		c := f.root.cache
		contentType(tc.prefix) // the MIME table, read once for all
		heap := liveHeap()
		for i := tc.from; i < tc.to; i++ {
			name := tc.prefix + strconv.Itoa(i)
			if c.lookup(name).missing != (tc.prefix == "m") {
				t.Fatalf("%s: found %v", name, tc.prefix == "m")
			}
		}
		grown := liveHeap() - heap
		charged := f.budget.used[kindFound].Load() + f.budget.used[kindGone].Load()
		k := int64(tc.to - tc.from)
		t.Logf("%s: %d entries, heap +%d bytes (%d each), charged %d (%d each)", tc.what, k, grown, grown/k, charged, charged/k)
		if grown > charged {
			t.Errorf("%s: heap grew %d bytes for %d entries, charged only %d", tc.what, grown, k, charged)
		}
		runtime.KeepAlive(f)
		f.Close()
	}
}

func liveHeap() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestLargeFileNotReadInLookup: resolving a large file (as an event loop
// does) reads none of it, and once a full cache has its entry, requests
// for it do not read it again (before, a full cache re-read and re-hashed
// it for every request, inside the loop).
func TestLargeFileNotReadInLookup(t *testing.T) {
	const size = 4 << 20
	root := tree(t, map[string]string{"big.bin": strings.Repeat("z", size)})
	f := cacheFront(t, root, time.Hour, [2]int64{})
	for i := range 70000 { // more than the old cap on entries
		f.root.cache.lookup("nothing/" + strconv.Itoa(i))
	}
	before := readBytes(t)
	if fd := f.root.resolve("/big.bin"); fd.kind != kindFile {
		t.Fatalf("big.bin: kind %v", fd.kind)
	}
	if n := readBytes(t) - before; n > 64<<10 {
		t.Errorf("resolving a %d-byte file read %d bytes", size, n)
	}
	before = readBytes(t)
	for range 10 {
		if w := do(t, f, "HEAD", "/big.bin", nil); w.Code != 200 || w.Header().Get("Etag") == "" {
			t.Fatalf("HEAD big.bin: %d %v", w.Code, w.Header())
		}
	}
	if n := readBytes(t) - before; n > 2*size {
		t.Errorf("10 HEAD requests of a %d-byte file read %d bytes", size, n)
	}
}

// readBytes is the bytes this process has read (rchar).
func readBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// TestPreparedAnswerCharged: the prepared answer header of a small file
// (entry.resp) is charged to the budget with the entry, and is left out
// when the budget has no room for it (the file is still cached and
// served, its header then built per request).
func TestPreparedAnswerCharged(t *testing.T) {
	root := tree(t, map[string]string{"a.css": "p{}", "b.txt": "bee", "b.txt.gz": gz(t, "bee")})
	f := cacheFront(t, root, time.Hour, [2]int64{})
	e := f.root.cache.lookup("a.css")
	if e.resp == nil {
		t.Fatal("a.css: no prepared answer")
	}
	want := "HTTP/1.1 200 OK\r\nEtag: " + e.tag.Load().etag + "\r\nLast-Modified: " + e.hLastMod[0] +
		"\r\nContent-Type: text/css; charset=utf-8\r\nAccept-Ranges: bytes\r\nContent-Length: 3\r\n"
	if string(e.resp) != want {
		t.Errorf("prepared answer %q, want %q", e.resp, want)
	}
	if want := int64(len("a.css")) + entryOverhead + 3 + int64(cap(e.resp)); e.cost != want {
		t.Errorf("a.css charged %d, want %d (key, overhead, data, prepared answer)", e.cost, want)
	}
	checkBudget(t, &f.budget)
	if v := f.root.cache.lookup("b.txt"); v.resp == nil || v.variants[2] == nil || v.variants[2].resp != nil {
		t.Errorf("b.txt: prepared %v, its sidecar %v (want only the main file's)", v.resp != nil, v.variants[2])
	}

	// Room for the entry and its key, none for the header.
	tight := cacheFront(t, root, time.Hour, [2]int64{int64(len("a.css")) + entryOverhead + 3, 0})
	e = tight.root.cache.lookup("a.css")
	if e.resp != nil || e.data == nil {
		t.Errorf("a.css in a tight budget: prepared %v, data %v", e.resp != nil, e.data != nil)
	}
	if v, ok := tight.root.cache.entries.Load("a.css"); !ok || v.(*entry) != e {
		t.Error("a.css in a tight budget: not cached")
	}
	checkBudget(t, &tight.budget)
	if w := do(t, tight, "GET", "/a.css", nil); w.Code != 200 || w.Body.String() != "p{}" {
		t.Errorf("a.css in a tight budget: %d %q", w.Code, w.Body)
	}
}
