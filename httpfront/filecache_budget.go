package httpfront

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The file caches of a front end share one budget in bytes: every entry is
// charged for its key, its file data and an estimate of its own memory
// (entryOverhead), found or missing. Missing paths have a budget of their
// own, so that asking for files that do not exist (any number of distinct
// names, each as long as the header limit allows) can only evict other
// missing paths. When a budget is full, the cache that wants room sweeps:
// missing paths past their TTL go, then the entries used least recently
// until a quarter of the budget is free (so a sweep, which sorts, runs at
// most once per quarter budget of new entries).
const (
	maxCacheBytes   = 8 << 20 // found paths: metadata, small files' content
	maxMissingBytes = 1 << 20 // paths with nothing (readable) there
	// entryOverhead is what an entry costs beyond its key and file data:
	// the entry, its header values, the map's node. TestCacheEntryCost
	// checks it against the heap.
	entryOverhead = 640
	// fileOverhead is the extra of a large file's entry: the descriptor
	// it may keep open, its ETag.
	fileOverhead = 384
)

// Budget kinds.
const (
	kindFound = iota
	kindGone
)

// cacheBudget is the byte budget the dirCaches of one Front share.
type cacheBudget struct {
	limits [2]int64 // by kind; zero: the defaults
	used   [2]atomic.Int64

	mu     sync.Mutex // held by a sweep
	caches []*dirCache
}

func (b *cacheBudget) limit(kind int) int64 {
	if b.limits[kind] > 0 {
		return b.limits[kind]
	}
	if kind == kindGone {
		return maxMissingBytes
	}
	return maxCacheBytes
}

// register makes c one of the caches that sweeps look through.
func (b *cacheBudget) register(c *dirCache) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.caches = append(b.caches, c)
}

// reserve charges n bytes to kind. When that would go over the limit it
// sweeps first; false (nothing charged) when there is still no room or
// another sweep is running: the caller then does not cache.
func (b *cacheBudget) reserve(kind int, n int64, now int64) bool {
	if b.used[kind].Add(n) <= b.limit(kind) {
		return true
	}
	b.used[kind].Add(-n)
	if !b.mu.TryLock() {
		return false
	}
	defer b.mu.Unlock()
	b.sweep(kind, now)
	if b.used[kind].Add(n) <= b.limit(kind) {
		return true
	}
	b.used[kind].Add(-n)
	return false
}

func (b *cacheBudget) release(kind int, n int64) { b.used[kind].Add(-n) }

// sweep frees room in kind: expired missing paths go, then the entries of
// kind used least recently until at most 3/4 of its limit is used. The
// caller holds mu.
func (b *cacheBudget) sweep(kind int, now int64) {
	type cand struct {
		c    *dirCache
		key  string
		e    *entry
		used int64
	}
	var cands []cand
	for _, c := range b.caches {
		c.entries.Range(func(k, v any) bool {
			e := v.(*entry)
			switch {
			case e.missing && now-e.checked.Load() >= int64(c.ttl):
				c.remove(k.(string), e)
			case e.kind() == kind:
				cands = append(cands, cand{c, k.(string), e, e.used.Load()})
			}
			return true
		})
	}
	target := b.limit(kind) / 4 * 3
	if b.used[kind].Load() <= target {
		return
	}
	slices.SortFunc(cands, func(x, y cand) int {
		switch {
		case x.used < y.used:
			return -1
		case x.used > y.used:
			return 1
		}
		return 0
	})
	for _, x := range cands {
		if b.used[kind].Load() <= target {
			return
		}
		x.c.remove(x.key, x.e)
	}
}

// usedGrain is how stale an entry's last-use time may be: a hit stores it
// only when it moved on by this much, so that hot entries read by several
// threads are not written on every request.
const usedGrain = int64(time.Millisecond)

// touch records a use of e at now (unix nanoseconds).
func (e *entry) touch(now int64) {
	if now-e.used.Load() >= usedGrain {
		e.used.Store(now)
	}
}

func (e *entry) kind() int {
	if e.missing {
		return kindGone
	}
	return kindFound
}
