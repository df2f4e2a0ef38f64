package rootfs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCacheBound: the cache never holds more than Max bytes after a Put;
// the least recently used entries go first, and a Get counts as a use.
func TestCacheBound(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), Max: 3000}
	old := time.Now().Add(-time.Hour)
	for i, key := range []string{"a", "b", "c"} {
		if err := c.Put(key, bytes.Repeat([]byte{'x'}, 1000)); err != nil {
			t.Fatal(err)
		}
		// Distinct use times, a before b before c.
		ts := old.Add(time.Duration(i) * time.Minute)
		os.Chtimes(filepath.Join(c.Dir, key), ts, ts)
	}
	if _, ok := c.Get("a"); !ok { // a is now the most recently used
		t.Fatal("a is not in the cache")
	}
	if err := c.Put("d", bytes.Repeat([]byte{'y'}, 1500)); err != nil {
		t.Fatal(err)
	}
	var total int64
	var names []string
	ents, _ := os.ReadDir(c.Dir)
	for _, e := range ents {
		info, _ := e.Info()
		total += info.Size()
		names = append(names, e.Name())
	}
	if total > c.Max || strings.Join(names, ",") != "a,d" {
		t.Errorf("after the Put: %v, %d bytes; want a,d within %d", names, total, c.Max)
	}
	for _, bad := range []string{"", "../x", "a/b", ".put-1"} {
		if err := c.Put(bad, []byte("x")); err == nil {
			t.Errorf("Put(%q) was taken", bad)
		}
	}
	var nilCache *Cache
	if _, ok := nilCache.Get("a"); ok || nilCache.Put("a", nil) != nil {
		t.Error("a nil cache is not an empty one")
	}
}

// TestGoKey: the key of a program changes with its sources, an embedded
// file, its module's go.mod and the build flags, and with nothing else.
func TestGoKey(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/k\n\ngo 1.22\n")
	write("main.go", "package main\n\nimport _ \"embed\"\n\n//go:embed page.txt\nvar page string\n\nfunc main() { println(page) }\n")
	write("page.txt", "one")
	env := append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	flags := []string{"-trimpath"}
	key := func(flags ...string) string {
		t.Helper()
		k, err := goKey(context.Background(), append(flags, "."), env, dir)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	first := key(flags...)
	if again := key(flags...); again != first {
		t.Fatal("the key changed with nothing changed")
	}
	seen := map[string]string{first: "the first"}
	later := time.Now().Add(time.Minute)
	for _, step := range []struct {
		what string
		do   func() string
	}{
		{"main.go edited", func() string {
			write("main.go", "package main\n\nimport _ \"embed\"\n\n//go:embed page.txt\nvar page string\n\nfunc main() { print(page) }\n")
			return key(flags...)
		}},
		{"the embedded file touched", func() string {
			os.Chtimes(filepath.Join(dir, "page.txt"), later, later)
			return key(flags...)
		}},
		{"go.mod edited", func() string { write("go.mod", "module example.com/k\n\ngo 1.23\n"); return key(flags...) }},
		{"a tag", func() string { return key("-trimpath", "-tags=noacme") }},
		{"a new file", func() string { write("more.go", "package main\n"); return key(flags...) }},
	} {
		k := step.do()
		if prev, ok := seen[k]; ok {
			t.Errorf("%s: the key is %s's", step.what, prev)
		}
		seen[k] = step.what
	}
}

// TestBuildCached: a build from the cache is byte for byte the one
// without it; the cache then holds the linked program and the archive,
// and a changed tree gives a new archive.
func TestBuildCached(t *testing.T) {
	dir, err := filepath.Abs("testdata/multicall")
	if err != nil {
		t.Fatal(err)
	}
	tree := testTree(t)
	opts := func(c *Cache) Options {
		return Options{
			GOARCH:   "amd64",
			Programs: []Program{{Name: "init", Package: ".", Dir: dir, Target: "init"}},
			Trees:    []Tree{{Source: tree, Target: "/srv/www"}},
			WorkDir:  t.TempDir(), Cache: c,
		}
	}
	plain := build(t, opts(nil))
	c := &Cache{Dir: t.TempDir(), Max: DefaultCacheMax}
	first, second := build(t, opts(c)), build(t, opts(c))
	if !bytes.Equal(first, plain) || !bytes.Equal(second, plain) {
		t.Fatal("a build through the cache differs from one without it")
	}
	kinds := map[string]int{}
	ents, _ := os.ReadDir(c.Dir)
	for _, e := range ents {
		kind, _, _ := strings.Cut(e.Name(), "-")
		kinds[kind]++
	}
	if kinds["go1"] != 1 || kinds["zst1"] != 1 {
		t.Errorf("cache entries %v, want one program and one archive", kinds)
	}
	if err := os.WriteFile(filepath.Join(tree, "index.html"), []byte("changed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed := build(t, opts(c)); bytes.Equal(changed, plain) {
		t.Error("a changed tree gave the cached archive")
	}
}
