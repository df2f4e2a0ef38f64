package initsvc

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mkimage/mkimage/spec"
)

func ownerMode(t *testing.T, p string) (int, os.FileMode) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid), st.Mode().Perm()
}

// Each app gets a directory of its own user's alone; an older image's
// /data/app becomes the first app's; an app whose uid changed (moved in the
// config) gets its files back.
func TestAppDataDirs(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("MKIMAGE_REQUIRE_QEMU") == "1" {
			t.Fatal("needs root to give files away (./do test runs as root in CI)")
		}
		t.Skip("needs root to chown")
	}
	data := t.TempDir()
	legacy := filepath.Join(data, "app")
	if err := os.MkdirAll(filepath.Join(legacy, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacy, "sub", "note"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	pools := []spec.Pool{
		{Name: "shop", UID: 1000, DataDir: filepath.Join(data, "apps", "shop")},
		{Name: "blog", UID: 1001, DataDir: filepath.Join(data, "apps", "blog")},
	}
	if err := appDataDirs(pools, legacy); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "apps", "shop", "sub", "note")); err != nil || string(b) != "old" {
		t.Errorf("the legacy data did not move to the first app: %q %v", b, err)
	}
	if uid, mode := ownerMode(t, filepath.Join(data, "apps")); uid != 0 || mode != 0o711 {
		t.Errorf("apps root: uid %d mode %o, want root 0711", uid, mode)
	}
	for _, p := range pools {
		if uid, mode := ownerMode(t, p.DataDir); uid != p.UID || mode != 0o700 {
			t.Errorf("%s: uid %d mode %o, want %d 0700", p.Name, uid, mode, p.UID)
		}
	}
	// The apps swap places in the config: each one's files follow its new uid.
	pools[0].UID, pools[1].UID = 1001, 1000
	if err := appDataDirs(pools, legacy); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"apps/shop", "apps/shop/sub", "apps/shop/sub/note"} {
		if uid, _ := ownerMode(t, filepath.Join(data, p)); uid != 1001 {
			t.Errorf("%s: uid %d after the swap, want 1001", p, uid)
		}
	}
	// A file where an app's directory should be is an error, not followed.
	pools = append(pools, spec.Pool{Name: "bad", UID: 1002, DataDir: filepath.Join(data, "apps", "bad")})
	if err := os.Symlink("/etc", pools[2].DataDir); err != nil {
		t.Fatal(err)
	}
	if err := appDataDirs(pools, legacy); err == nil {
		t.Error("a symlink as an app's directory was accepted")
	}
}
