package fcgiserver

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// recFS is the real file system with every call recorded as "op base" and
// an injected error for the first call whose record equals failOn.
type recFS struct {
	calls  []string
	failOn string
	err    error
}

func (r *recFS) do(op, name string) error {
	rec := op + " " + filepath.Base(name)
	if strings.HasPrefix(filepath.Base(name), ".") && strings.Contains(name, ".tmp-") {
		rec = op + " TMP"
	}
	r.calls = append(r.calls, rec)
	if rec == r.failOn || op == r.failOn {
		return r.err
	}
	return nil
}

func (r *recFS) CreateTemp(dir, pattern string) (file, error) {
	if err := r.do("create", pattern); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &recFile{f, r}, nil
}

func (r *recFS) Rename(from, to string) error {
	if err := r.do("rename", to); err != nil {
		return err
	}
	return os.Rename(from, to)
}

func (r *recFS) Remove(name string) error {
	r.do("remove", name)
	return os.Remove(name)
}

func (r *recFS) OpenDir(name string) (file, error) {
	if err := r.do("opendir", name); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &recFile{f, r}, nil
}

type recFile struct {
	*os.File
	r *recFS
}

func (f *recFile) Write(p []byte) (int, error) {
	if err := f.r.do("write", f.Name()); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *recFile) Chmod(m os.FileMode) error {
	if err := f.r.do("chmod", f.Name()); err != nil {
		return err
	}
	return f.File.Chmod(m)
}

func (f *recFile) Sync() error {
	if err := f.r.do("sync", f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *recFile) Close() error {
	err := f.r.do("close", f.Name())
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

// TestWriteAtomicOrder proves the sequence: the file's data is synced
// before the rename and the directory is synced after it.
func TestWriteAtomicOrder(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "note")
	mustDurable(t, os.WriteFile(target, []byte("old"), 0o644))
	r := &recFS{}
	if err := writeAtomic(r, target, 0o640, writeString("new")); err != nil {
		t.Fatal(err)
	}
	d := filepath.Base(dir)
	want := []string{"create TMP", "write TMP", "chmod TMP", "sync TMP", "close TMP",
		"rename note", "opendir " + d, "sync " + d, "close " + d}
	if !slices.Equal(r.calls, want) {
		t.Errorf("calls:\n got %q\nwant %q", r.calls, want)
	}
	checkFile(t, target, "new", 0o640)
	checkNoTemps(t, dir)
}

// TestWriteAtomicFailures fails each step in turn: before the rename the
// target keeps its old content; the temporary file never stays behind.
func TestWriteAtomicFailures(t *testing.T) {
	boom := errors.New("injected")
	tests := []struct {
		failOn  string
		want    string // target content afterwards
		wantErr string
	}{
		{"create", "old", "creating a temporary file: injected"},
		{"write", "old", "writing"},
		{"chmod", "old", "writing"},
		{"sync TMP", "old", "writing"},
		{"close TMP", "old", "writing"},
		{"rename", "old", "injected"},
		{"opendir", "new", "may not survive a power cut: opening the directory"},
		{"sync DIR", "new", "may not survive a power cut: syncing the directory"},
		{"close DIR", "new", "may not survive a power cut: syncing the directory"},
	}
	for _, tc := range tests {
		t.Run(tc.failOn, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "note")
			mustDurable(t, os.WriteFile(target, []byte("old"), 0o600))
			r := &recFS{failOn: strings.Replace(tc.failOn, "DIR", filepath.Base(dir), 1), err: boom}
			err := writeAtomic(r, target, 0o600, writeString("new"))
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), target) {
				t.Errorf("error %v, want %q wrapping the injected one and naming %s", err, tc.wantErr, target)
			}
			checkFile(t, target, tc.want, 0o600)
			checkNoTemps(t, dir)
		})
	}
}

// TestWriteFileAtomicErrors runs the real file system into errors.
func TestWriteFileAtomicErrors(t *testing.T) {
	dir := t.TempDir()
	mustDurable(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	mustDurable(t, os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644))
	tests := []struct {
		name, path string
		want       error
	}{
		{"missing dir", filepath.Join(dir, "nodir", "note"), os.ErrNotExist},
		{"target is a directory", filepath.Join(dir, "sub"), syscall.EISDIR},
		{"target is a directory (trailing slash)", filepath.Join(dir, "sub") + "/", nil},
		{"dir is a file", filepath.Join(dir, "file", "note"), syscall.ENOTDIR},
		{"no file name", dir + "/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteFileAtomic(tc.path, []byte("data"), 0o600)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("WriteFileAtomic(%s) = %v, want %v", tc.path, err, tc.want)
			}
			checkNoTemps(t, dir)
			checkNoTemps(t, filepath.Join(dir, "sub"))
		})
	}
	if st, err := os.Stat(filepath.Join(dir, "sub")); err != nil || !st.IsDir() {
		t.Errorf("the directory in the way was replaced: %v", err)
	}
}

// TestWriteFileAtomicUnwritableDir: a directory the process may not write
// (the injected EACCES stands in: tests may run as root, which may write
// anywhere).
func TestWriteFileAtomicUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	r := &recFS{failOn: "create", err: &os.PathError{Op: "open", Path: dir, Err: syscall.EACCES}}
	err := writeAtomic(r, filepath.Join(dir, "note"), 0o600, writeString("x"))
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("error %v, want a permission error", err)
	}
	if !slices.Equal(r.calls, []string{"create TMP"}) {
		t.Errorf("calls after a failed create: %q", r.calls)
	}
}

// TestWriteFileAtomicFuncAbandons: an error from the producer leaves the
// old file and no temporary file.
func TestWriteFileAtomicFuncAbandons(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "db.json")
	mustDurable(t, WriteFileAtomic(target, []byte("v1"), 0o600))
	stop := errors.New("producer failed")
	err := WriteFileAtomicFunc(target, 0o600, func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("partial ", 10000))
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("error %v, want the producer's", err)
	}
	checkFile(t, target, "v1", 0o600)
	checkNoTemps(t, dir)
}

// TestWriteFileAtomicStreamBounded: streaming 16 MiB holds one 32 KiB
// buffer, not the content.
func TestWriteFileAtomicStreamBounded(t *testing.T) {
	target := filepath.Join(t.TempDir(), "big")
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := WriteFileAtomicFunc(target, 0o600, func(w io.Writer) error {
		for range 4096 {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	})
	runtime.ReadMemStats(&after)
	mustDurable(t, err)
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
		t.Errorf("streaming 16 MiB allocated %d bytes, want under 256 KiB", got)
	}
	if st, err := os.Stat(target); err != nil || st.Size() != 16<<20 {
		t.Errorf("stat: %v %v", st, err)
	}
}

func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "note")
	for _, n := range []string{".note.tmp-123", ".note.tmp-9", "note", ".note.tmp-", ".note.tmp-12x", ".notes.tmp-1", ".other.tmp-1"} {
		mustDurable(t, os.WriteFile(filepath.Join(dir, n), nil, 0o600))
	}
	mustDurable(t, os.Mkdir(filepath.Join(dir, ".note.tmp-77"), 0o700))
	got, err := RemoveTemps(target)
	mustDurable(t, err)
	want := []string{filepath.Join(dir, ".note.tmp-123"), filepath.Join(dir, ".note.tmp-9")}
	if !slices.Equal(got, want) {
		t.Errorf("removed %q, want %q", got, want)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 6 {
		t.Errorf("%d entries left, want 6", len(left))
	}
}

// TestTempNamesMatch: the names os.CreateTemp makes from tempPattern are
// the ones RemoveTemps recognises.
func TestTempNamesMatch(t *testing.T) {
	dir := t.TempDir()
	for _, base := range []string{"note", "a.b", "x-tmp-1", ".hidden"} {
		f, err := os.CreateTemp(dir, tempPattern(base))
		mustDurable(t, err)
		f.Close()
		if name := filepath.Base(f.Name()); !isTempOf(name, base) || isTempOf(base, base) {
			t.Errorf("base %q: temp %q not recognised (or the target is)", base, name)
		}
	}
}

func FuzzIsTempOf(f *testing.F) {
	f.Add("note", "123")
	f.Add("a.tmp-1", "")
	f.Fuzz(func(t *testing.T, base, suffix string) {
		name := "." + base + ".tmp-" + suffix
		want := suffix != "" && strings.Trim(suffix, "0123456789") == ""
		if got := isTempOf(name, base); got != want {
			t.Errorf("isTempOf(%q, %q) = %v, want %v", name, base, got, want)
		}
		if isTempOf(base, base) {
			t.Errorf("the target %q counts as its own temporary file", base)
		}
	})
}

func checkFile(t *testing.T, path, want string, perm os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s = %q, %v; want %q", path, got, err, want)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm() != perm {
		t.Errorf("%s mode %v, want %v", path, st.Mode().Perm(), perm)
	}
}

func checkNoTemps(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func mustDurable(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
