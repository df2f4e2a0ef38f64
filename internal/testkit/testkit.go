// Package testkit holds the helpers the project's tests share: finding a
// peer program, starting and stopping processes, picking a free port, and
// waiting for a socket, an HTTP answer or a condition, and reading a
// process's memory. Only tests and the soak (a test program) import it.
package testkit

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NeedPeer finds a program the test talks to (lighttpd, php-cgi...) in
// PATH or an sbin directory. A missing one skips the test, unless the run
// requires peers (MKIMAGE_REQUIRE_PEERS=1, as ./do test and CI set), where
// it fails.
func NeedPeer(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s is not installed and MKIMAGE_REQUIRE_PEERS=1 (./do test installs it)", name)
	}
	t.Skipf("%s is not installed (set MKIMAGE_REQUIRE_PEERS=1 to fail instead)", name)
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartProc starts cmd with its output in logPath (the test's stderr when
// "") and stops it when the test ends: SIGTERM, then SIGKILL after 5 s,
// by its own PID only.
func StartProc(t testing.TB, cmd *exec.Cmd, logPath string) {
	t.Helper()
	out := os.Stderr
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out = f
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

// WaitFor polls cond every 5 ms until it holds, failing the test after
// timeout with what it waited for.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// WaitSocket waits up to 10 s until a unix socket at path accepts.
func WaitSocket(t testing.TB, path string) {
	t.Helper()
	WaitFor(t, "a listener on "+path, 10*time.Second, func() bool {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// WaitHTTP waits up to 15 s until url answers anything; if it does not,
// the test fails showing the given log files.
func WaitHTTP(t testing.TB, url string, logs ...string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
	}
	var b strings.Builder
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		fmt.Fprintf(&b, "--- %s\n%s\n", l, data)
	}
	t.Fatalf("%s did not answer in 15 s\n%s", url, b.String())
}

// ProcStatusKB returns the fields of /proc/PID/status counted in kB
// (VmRSS, VmHWM, ...), in KiB. It takes no testing.TB: the soak program
// reads its front end's memory with it too.
func ProcStatusKB(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the status of process %d: %w", pid, err)
	}
	m := map[string]int64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			m[k], _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	return m, nil
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers (a process's
// output, a logger, a queue) and the test that reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
