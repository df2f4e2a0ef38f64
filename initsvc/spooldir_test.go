package initsvc

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The spool directory is made (or taken over) with mode 0700 for the
// front end's user, emptied of what a crash left, and refused when it is
// not a directory (a symlink is not followed).
func TestMakeSpoolDir(t *testing.T) {
	uid := os.Getuid() // chown to another user needs root
	if uid == 0 {
		uid = 33
	}
	tests := []struct {
		name  string
		setup func(dir string)
		ok    bool
	}{
		{"new", func(string) {}, true},
		{"left over files", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
			os.WriteFile(filepath.Join(dir, "httpfront-body-1"), []byte("x"), 0o644)
			os.Chmod(dir, 0o755)
		}, true},
		{"symlink", func(dir string) { os.Symlink(os.TempDir(), dir) }, false},
		{"file", func(dir string) { os.WriteFile(dir, nil, 0o600) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			tc.setup(dir)
			err := makeSpoolDir(dir, uid)
			if (err == nil) != tc.ok {
				t.Fatalf("makeSpoolDir: %v", err)
			}
			if !tc.ok {
				return
			}
			st, err := os.Lstat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o700 || int(st.Sys().(*syscall.Stat_t).Uid) != uid {
				t.Errorf("mode %v uid %d, want 0700 uid %d", st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, uid)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("left in the spool directory: %v", ents)
			}
		})
	}
}
