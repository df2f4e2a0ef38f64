package debian

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testPackage is small and has dependencies: lz4 needs liblz4-1 and
// libc6, which needs libgcc-s1 and gcc-12-base.
const testPackage = "lz4"

// sharedCaches are the test binary's caches, one per architecture, so
// the tests that fetch download each package once.
var sharedCaches sync.Map

// needMirror skips the test when apt cannot reach a Debian mirror, unless
// MKIMAGE_REQUIRE_PEERS=1 says the mirror must be there.
func needMirror(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fetches Debian packages")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get")
	}
	fail := t.Skipf
	if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
		fail = t.Fatalf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Reachable(ctx, t.TempDir()); err != nil {
		fail("no Debian mirror reachable: %v", err)
	}
}

// testFetcher returns a fetcher with the test binary's cache for arch.
func testFetcher(t *testing.T, arch string, progress *bytes.Buffer) *Fetcher {
	dir, _ := sharedCaches.LoadOrStore(arch, filepath.Join(os.TempDir(), "mkimage-debian-test-"+arch))
	f := &Fetcher{Arch: arch, Cache: dir.(string)}
	if progress != nil {
		f.Progress = progress
	}
	return f
}

// A package and its dependencies land unpacked, without documentation,
// for either architecture, on this host; the lock file takes the same
// versions again.
func TestFetch(t *testing.T) {
	needMirror(t)
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			var progress bytes.Buffer
			f := testFetcher(t, arch, &progress)
			pkgs, err := f.Fetch(context.Background(), []string{testPackage}, &Lock{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("progress:\n%s", progress.String())
			names := map[string]Package{}
			for _, p := range pkgs {
				names[p.Name] = p
				t.Logf("%s %s %s: .deb %d bytes, %d installed", p.Name, p.Version, p.Arch, p.DebBytes, p.Bytes)
				if _, err := os.Stat(filepath.Join(p.Dir, "usr/share/doc")); err == nil {
					t.Errorf("%s kept /usr/share/doc", p.Name)
				}
				if len(p.SHA256) != 64 || p.Bytes < 0 || p.DebBytes <= 0 {
					t.Errorf("%s: sha256 %q, %d bytes", p.Name, p.SHA256, p.Bytes)
				}
			}
			for _, want := range []string{"lz4", "liblz4-1", "libc6"} {
				if _, ok := names[want]; !ok {
					t.Errorf("%s is missing from %v", want, pkgs)
				}
			}
			if len(pkgs) > 6 {
				t.Errorf("%d packages: more than lz4's dependency closure", len(pkgs))
			}
			checkELF(t, filepath.Join(names["lz4"].Dir, "usr/bin/lz4"), arch)
			if !strings.Contains(progress.String(), "debian   ") {
				t.Errorf("no progress line")
			}
			checkLockRoundTrip(t, f, pkgs)
			if arch == "amd64" {
				checkRuns(t, pkgs)
			}
		})
	}
}

// checkRuns runs lz4 chrooted in the packages alone (as root on an
// amd64 host): the closure brings its C library and loader, nothing from
// the host or the Essential set is missing.
func checkRuns(t *testing.T, pkgs []Package) {
	t.Helper()
	if os.Geteuid() != 0 || runtime.GOARCH != "amd64" {
		t.Log("not root on amd64: lz4 is not run chrooted")
		return
	}
	root := t.TempDir()
	for _, p := range pkgs {
		if out, err := exec.Command("cp", "-a", p.Dir+"/.", root).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
	}
	cmd := exec.Command("/usr/bin/lz4", "-V")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "LZ4") {
		t.Errorf("lz4 -V chrooted in the packages: %v: %s", err, out)
	}
	t.Logf("chrooted in the packages: %s", bytes.TrimSpace(out))
}

// checkELF checks the file is an executable for arch.
func checkELF(t *testing.T, path, arch string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	machine := map[string]byte{"amd64": 0x3e, "arm64": 0xb7}[arch]
	if len(data) < 20 || string(data[1:4]) != "ELF" || data[18] != machine {
		t.Errorf("%s is not an %s ELF file", path, arch)
	}
}

// checkLockRoundTrip writes the lock, reads it back and resolves again:
// the same versions and hashes.
func checkLockRoundTrip(t *testing.T, f *Fetcher, pkgs []Package) {
	t.Helper()
	path := filepath.Join(t.TempDir(), LockName)
	lock := &Lock{}
	lock.Set(f.Arch, pkgs)
	if err := lock.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(back.For(f.Arch)); got != len(pkgs) {
		t.Fatalf("the lock holds %d packages for %s, want %d", got, f.Arch, len(pkgs))
	}
	again, err := f.Fetch(context.Background(), []string{testPackage}, back)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if again[i].Version != pkgs[i].Version || again[i].SHA256 != pkgs[i].SHA256 {
			t.Errorf("with the lock: %s %s, before %s %s", again[i].Name, again[i].Version, pkgs[i].Name, pkgs[i].Version)
		}
	}
}

// A lock naming a version the mirrors do not serve fails naming the
// package, for the named package and for a dependency alike.
func TestFetchLockedVersionGone(t *testing.T) {
	needMirror(t)
	f := testFetcher(t, "amd64", nil)
	for _, name := range []string{"lz4", "liblz4-1"} {
		lock := &Lock{Entries: []LockEntry{{Name: name, Arch: "amd64", Version: "0.0.1-1", SHA256: strings.Repeat("0", 64)}}}
		_, err := f.Fetch(context.Background(), []string{testPackage}, lock)
		t.Logf("locked %s: %v", name, err)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "0.0.1-1") {
			t.Errorf("locked %s 0.0.1-1: %v", name, err)
		}
	}
}

// A package Debian does not have is an error naming it.
func TestFetchMissingPackage(t *testing.T) {
	needMirror(t)
	f := testFetcher(t, "amd64", nil)
	_, err := f.Fetch(context.Background(), []string{"no-such-package-mkimage"}, &Lock{})
	t.Logf("missing: %v", err)
	if err == nil || !strings.Contains(err.Error(), "no-such-package-mkimage") {
		t.Errorf("got %v", err)
	}
}
