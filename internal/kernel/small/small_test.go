package small

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCheckConfig(t *testing.T) {
	config := "CONFIG_A=y\nCONFIG_NR_CPUS=8\n# CONFIG_B is not set\n"
	for _, tc := range []struct {
		name, fragment, want string
	}{
		{"all there", "# comment\nCONFIG_A=y\n\nCONFIG_NR_CPUS=8\n", ""},
		{"dropped", "CONFIG_A=y\nCONFIG_B=y\n", "CONFIG_B=y"},
		{"other value", "CONFIG_NR_CPUS=4\n", "CONFIG_NR_CPUS=4"},
		{"kept off", "# CONFIG_B is not set\n# CONFIG_C is not set\n", ""},
		{"selected all the same", "# CONFIG_A is not set\n", "# CONFIG_A is not set"},
		{"a comment like it", "# CONFIG_A is not set, see above\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkConfig(tc.fragment, config)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("checkConfig = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestFragments: every line of the embedded fragments is a comment or a
// CONFIG_X=value, and no option is given twice.
func TestFragments(t *testing.T) {
	line := regexp.MustCompile(`^CONFIG_[A-Z0-9_]+=(y|[0-9]+)$`)
	for _, a := range arches {
		seen := map[string]bool{}
		for i, l := range strings.Split(a.Fragment, "\n") {
			name, off := unsetOption(l)
			if !off && (l == "" || strings.HasPrefix(l, "#")) {
				continue
			}
			if !off && !line.MatchString(l) {
				t.Errorf("%s fragment line %d: %q", a.GOARCH, i+1, l)
			}
			if !off {
				name, _, _ = strings.Cut(l, "=")
			}
			if seen[name] {
				t.Errorf("%s fragment: %s twice", a.GOARCH, name)
			}
			seen[name] = true
		}
		if len(seen) < 20 {
			t.Errorf("%s fragment has %d options", a.GOARCH, len(seen))
		}
	}
}

func TestFindSource(t *testing.T) {
	dir := t.TempDir()
	if _, err := FindSource(dir); err == nil || !strings.Contains(err.Error(), "apt-get install linux-source") {
		t.Errorf("empty dir: %v, want the package to install", err)
	}
	for _, n := range []string{"linux-source-6.9.tar.xz", "linux-source-6.10.tar.xz", "linux-source-5.15.tar.xz"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := FindSource(dir)
	if err != nil || s.Name != "linux-source-6.10" || s.Size != int64(len("linux-source-6.10.tar.xz")) {
		t.Errorf("FindSource = %+v, %v; want linux-source-6.10", s, err)
	}
}

func TestCacheName(t *testing.T) {
	src := Source{Name: "linux-source-6.1", Version: "6.1.1-1", Size: 1, MTime: time.Unix(1, 0)}
	amd, _ := ForGOARCH("amd64")
	arm, _ := ForGOARCH("arm64")
	base := cacheName(amd, src)
	if !strings.HasPrefix(base, "amd64-linux-source-6.1-") || base != cacheName(amd, src) {
		t.Errorf("cacheName = %s (not stable, or not named by arch and source)", base)
	}
	newer := src
	newer.Version = "6.1.1-2"
	changed := amd
	changed.Fragment += "CONFIG_X=y\n"
	for name, got := range map[string]string{
		"arch": cacheName(arm, src), "source": cacheName(amd, newer), "fragment": cacheName(changed, src),
	} {
		if got == base {
			t.Errorf("another %s gives the same cache name %s", name, got)
		}
	}
	if _, err := ForGOARCH("riscv64"); err == nil {
		t.Error("ForGOARCH(riscv64) succeeded")
	}
}

func TestBuildEnvFixed(t *testing.T) {
	env := strings.Join(buildEnv(Source{MTime: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}), "\n")
	for _, want := range []string{"KBUILD_BUILD_TIMESTAMP=Thu Jan 2 03:04:05 UTC 2025", "KBUILD_BUILD_USER=", "KBUILD_BUILD_HOST=", "KBUILD_BUILD_VERSION="} {
		if !strings.Contains(env, want) {
			t.Errorf("build env lacks %s:\n%s", want, env)
		}
	}
}

// TestLockWaitsUntilCancelled: a build waiting for another one's lock
// says so once and stops when its context ends; it gets the lock once
// the holder lets go.
func TestLockWaitsUntilCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.lock")
	unlock, err := lock(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var progress bytes.Buffer
	if _, err := lock(ctx, path, &progress); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lock held elsewhere: %v, want the context's end", err)
	}
	if n := strings.Count(progress.String(), "waiting for another build"); n != 1 {
		t.Errorf("progress %q: want one waiting line", progress.String())
	}
	unlock()
	again, err := lock(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	again()
}

// TestPrune: the cache keeps the newest kernels of each architecture and
// drops the others with their logs; other architectures and locks stay.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i, name := range []string{"amd64-src-a", "amd64-src-b", "amd64-src-c", "arm64-src-a"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{".log", ".lock"} {
			os.WriteFile(filepath.Join(dir, name+ext), nil, 0o644)
		}
		at := now.Add(time.Duration(i) * time.Minute)
		os.Chtimes(filepath.Join(dir, name), at, at)
	}
	prune(dir, "amd64")
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	want := "amd64-src-a.lock amd64-src-b amd64-src-b.lock amd64-src-b.log amd64-src-c amd64-src-c.lock amd64-src-c.log arm64-src-a arm64-src-a.lock arm64-src-a.log"
	if got := strings.Join(left, " "); got != want {
		t.Errorf("left %s\nwant %s", got, want)
	}
}

// A build step's whole process group ends with its context: make's
// sub-makes and compilers are grandchildren that killing make alone
// leaves running.
func TestRunKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "", io.Discard, nil, "sh", "-c", "sleep 60 & echo $! > "+pidFile+"; wait")
	}()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the step did not start its grandchild")
		}
		data, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a cancelled step returned no error")
		}
	case <-time.After(10 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("a cancelled step still waits for its grandchild %d", pid)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the step's grandchild %d outlived its cancelled context", pid)
		}
	}
}

// A killed build's directory (a whole kernel tree) is removed by the next
// build of the same kernel, which holds its lock; other kernels' builds,
// which may be running, are left alone.
func TestRemoveLeftovers(t *testing.T) {
	cache := t.TempDir()
	dir := filepath.Join(cache, "amd64-linux-source-6.1-0123456789abcdef")
	mine := filepath.Join(cache, buildPrefix(dir)+"123")
	other := filepath.Join(cache, buildPrefix(filepath.Join(cache, "arm64-linux-source-6.1-fedcba9876543210"))+"456")
	for _, d := range []string{mine, other} {
		if err := os.MkdirAll(filepath.Join(d, "src", "kernel"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removeLeftovers(cache, dir)
	if _, err := os.Stat(mine); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed build's directory is still there (%v)", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another kernel's build directory was removed: %v", err)
	}
}
