package initsvc

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The ACME directory is made with its parent, mode 0700 for the front
// end's user, and what it holds (certificates) is kept across boots.
func TestMakeACMEDir(t *testing.T) {
	uid := os.Getuid()
	if uid == 0 {
		uid = 33
	}
	dir := filepath.Join(t.TempDir(), "mkimage", "acme")
	for boot := range 2 {
		if err := makeACMEDir(dir, uid); err != nil {
			t.Fatalf("boot %d: makeACMEDir: %v", boot, err)
		}
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 || int(st.Sys().(*syscall.Stat_t).Uid) != uid {
			t.Fatalf("boot %d: %v uid %d, want 0700 uid %d", boot, st.Mode(), st.Sys().(*syscall.Stat_t).Uid, uid)
		}
		if boot == 0 {
			if err := os.WriteFile(filepath.Join(dir, "kept"), []byte("cert"), 0o600); err != nil {
				t.Fatal(err)
			}
		} else if _, err := os.Stat(filepath.Join(dir, "kept")); err != nil {
			t.Fatalf("a reboot lost the stored state: %v", err)
		}
	}
}
