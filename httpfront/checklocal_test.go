package httpfront

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// cpuTime is the CPU time this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cachedEntries counts the entries of a directory cache.
func cachedEntries(c *dirCache) int {
	n := 0
	c.entries.Range(func(any, any) bool { n++; return true })
	return n
}

// TestCheckLocalLongPath: with check_local, a 14 KB /a/a/a/... request
// costs a bounded number of lookups and cache entries, whether the first
// component is missing or a symlink loop makes every prefix a directory.
// (Before, it looked up and cached every prefix: ~7,000 entries and 1.9 s
// of CPU for one request.)
func TestCheckLocalLongPath(t *testing.T) {
	dir := sockDir(t)
	be := rawBackend(t, dir, "cl", echoParams)
	for _, tc := range []struct {
		name, prefix string
		loop         bool
		maxEntries   int
	}{
		{"missing at root", "/", false, 4},
		{"missing below prefix", "/php", false, 4},
		{"symlink loop", "/", true, maxScriptDepth + 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tree(t, map[string]string{"index.html": "x", "php/index.php": "<?php"})
			if tc.loop {
				if err := os.Symlink(".", filepath.Join(root, "a")); err != nil {
					t.Fatal(err)
				}
			}
			f := newFront(t, spec.Front{Root: root, Apps: []spec.App{{Name: "p", Prefix: tc.prefix, CheckLocal: true, Backends: []string{be}}}}, Options{})
			target := strings.TrimSuffix(tc.prefix, "/") + strings.Repeat("/a", 7000)
			cpu := cpuTime(t)
			w := do(t, f, "GET", target, nil)
			used := cpuTime(t) - cpu
			n := cachedEntries(f.root.cache)
			t.Logf("%d-byte path: %d, %d cache entries, %v CPU", len(target), w.Code, n, used)
			if w.Code != 404 {
				t.Errorf("status %d, want 404", w.Code)
			}
			if n > tc.maxEntries {
				t.Errorf("%d cache entries after one request, want at most %d", n, tc.maxEntries)
			}
		})
	}
}
