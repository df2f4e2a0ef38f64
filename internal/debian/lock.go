package debian

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// LockName is the lock file's name, beside appliance.toml.
const LockName = "appliance.lock"

const lockHeader = `# appliance.lock: the Debian packages mkimage chose for appliance.toml,
# written by mkimage build. A build takes exactly these versions; delete a
# line (or the file) to let it choose the newest again.
# package architecture version sha256
`

// LockEntry is one package in the lock file. Arch is the image's
// architecture (an "all" package is locked for each image architecture).
type LockEntry struct {
	Name, Arch, Version, SHA256 string
}

// Lock is appliance.lock: the versions chosen, per image architecture.
type Lock struct {
	Entries []LockEntry
}

// ReadLock reads a lock file; a missing one is an empty lock.
func ReadLock(path string) (*Lock, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Lock{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading the lock file: %w", err)
	}
	defer f.Close()
	l := &Lock{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 4 || len(fields[3]) != 64 {
			return nil, fmt.Errorf("%s:%d: want \"package architecture version sha256\"", path, line)
		}
		l.Entries = append(l.Entries, LockEntry{Name: fields[0], Arch: fields[1], Version: fields[2], SHA256: fields[3]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return l, nil
}

// For returns the entries for an image architecture by package name.
func (l *Lock) For(arch string) map[string]LockEntry {
	m := map[string]LockEntry{}
	for _, e := range l.Entries {
		if e.Arch == arch {
			m[e.Name] = e
		}
	}
	return m
}

// Set replaces the entries for arch with pkgs.
func (l *Lock) Set(arch string, pkgs []Package) {
	l.Entries = slices.DeleteFunc(l.Entries, func(e LockEntry) bool { return e.Arch == arch })
	for _, p := range pkgs {
		l.Entries = append(l.Entries, LockEntry{Name: p.Name, Arch: arch, Version: p.Version, SHA256: p.SHA256})
	}
	slices.SortFunc(l.Entries, func(a, b LockEntry) int {
		return strings.Compare(a.Arch+" "+a.Name, b.Arch+" "+b.Name)
	})
}

// Write writes the lock file at path, if it changed.
func (l *Lock) Write(path string) error {
	var b strings.Builder
	b.WriteString(lockHeader)
	for _, e := range l.Entries {
		fmt.Fprintf(&b, "%s %s %s %s\n", e.Name, e.Arch, e.Version, e.SHA256)
	}
	if old, err := os.ReadFile(path); err == nil && string(old) == b.String() {
		return nil
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the lock file: %w", err)
	}
	return nil
}
