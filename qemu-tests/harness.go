// Package qemutests boots real images under QEMU through the mkimage
// command and talks to them over the forwarded HTTP port. The harness is a
// thin layer on os/exec: console expect with timeouts scaled by
// MKIMAGE_TIMEOUT_SCALE, a free hostfwd port (chosen by mkimage boot), and
// cleanup that kills only the processes it started.
package qemutests

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/internal/qemu"
)

// Tool is a built mkimage binary.
type Tool struct {
	Path string
	// Src is the source tree the binary was built from ("" for a binary
	// tested as installed, away from any source).
	Src string
	// Env, when non-nil, is the whole environment of the tool's commands
	// (an installed-binary test builds it from scratch); nil means this
	// process's environment.
	Env []string
	// Dir is the working directory of the tool's commands; "" means this
	// process's.
	Dir string
}

// BuildTool builds cmd/mkimage from the source tree src into dir.
func BuildTool(src, dir string) (*Tool, error) {
	out := filepath.Join(dir, "mkimage")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/mkimage")
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building mkimage: %w\n%s", err, b)
	}
	return &Tool{Path: out, Src: src}, nil
}

// Command returns an mkimage command run in tl.Dir with tl.Env (or this
// process's environment). cmd.Env is always a fresh slice that callers may
// append to.
func (tl *Tool) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(tl.Path, args...)
	cmd.Env = os.Environ()
	if tl.Env != nil {
		cmd.Env = slices.Clone(tl.Env)
	}
	cmd.Dir = tl.Dir
	return cmd
}

// Guest is a running `mkimage boot`.
type Guest struct {
	t       testing.TB
	Cmd     *exec.Cmd
	Console *Console
	URL     string
	exited  chan struct{}
	err     error
}

var urlRE = regexp.MustCompile(`open (http://127\.0\.0\.1:\d+/)`)

// Boot runs `mkimage boot args...` and waits until it prints the URL.
func (tl *Tool) Boot(t testing.TB, args ...string) *Guest {
	t.Helper()
	cmd := tl.Command(append([]string{"boot"}, args...)...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	g := &Guest{t: t, Cmd: cmd, Console: newConsole(pr), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mkimage boot: %v", err)
	}
	go func() {
		g.err = cmd.Wait()
		pw.Close()
		close(g.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-g.exited:
		default:
			// mkimage's QEMU dies with it (Pdeathsig); kill only our pid.
			_ = cmd.Process.Kill()
			<-g.exited
		}
		if t.Failed() {
			t.Logf("console:\n%s", g.Console.String())
		}
	})
	m := g.Console.Expect(t, urlRE, qemu.Scaled(60*time.Second))
	g.URL = m[1]
	return g
}

// PowerOff sends SIGINT to mkimage boot (as Ctrl-C would) and returns its
// exit error after it exited, or fails the test if it does not within
// timeout.
func (g *Guest) PowerOff(timeout time.Duration) error {
	g.t.Helper()
	_ = g.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.exited:
		return g.err
	case <-time.After(timeout):
		g.t.Fatalf("mkimage boot did not exit %v after SIGINT", timeout)
		return nil
	}
}

// KillQEMU cuts the guest's power: it sends SIGKILL to the QEMU process
// that this Guest's `mkimage boot` started (found as that process's child
// by PID, signalled through a pidfd so a recycled PID is never hit), waits
// for mkimage to exit and returns QEMU's PID.
func (g *Guest) KillQEMU(timeout time.Duration) int {
	g.t.Helper()
	pid, err := qemuChild(g.Cmd.Process.Pid)
	if err != nil {
		g.t.Fatalf("cutting the power: %v", err)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		g.t.Fatalf("cutting the power: opening QEMU (pid %d): %v", pid, err)
	}
	defer unix.Close(fd)
	// Still our child now that the pidfd pins the process?
	if ppid, comm, err := procStat(pid); err != nil || ppid != g.Cmd.Process.Pid || !strings.HasPrefix(comm, "qemu-system") {
		g.t.Fatalf("cutting the power: pid %d is no longer mkimage's QEMU (%d %q %v)", pid, ppid, comm, err)
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		g.t.Fatalf("cutting the power: SIGKILL to QEMU (pid %d): %v", pid, err)
	}
	select {
	case <-g.exited:
	case <-time.After(timeout):
		g.t.Fatalf("mkimage boot did not exit %v after its QEMU was killed", timeout)
	}
	return pid
}

// qemuChild returns the PID of the QEMU process whose parent is ppid.
func qemuChild(ppid int) (int, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("listing processes: %w", err)
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if pp, comm, err := procStat(pid); err == nil && pp == ppid && strings.HasPrefix(comm, "qemu-system") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("mkimage boot (pid %d) has no QEMU child", ppid)
}

// procStat reads a process's parent PID and command name from
// /proc/PID/stat ("pid (comm) state ppid ...", comm may hold spaces).
func procStat(pid int) (ppid int, comm string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", err
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return 0, "", fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return 0, "", fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, s[open+1 : end], err
}

// Console collects a guest's console output and lets tests wait for lines.
type Console struct {
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
	eof   bool
}

func newConsole(r io.Reader) *Console {
	c := &Console{}
	c.cond = sync.NewCond(&c.mu)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.cond.Broadcast()
			c.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, r)
		c.mu.Lock()
		c.eof = true
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	return c
}

// Expect waits until a line matches re and returns its submatches.
func (c *Console) Expect(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	m, err := c.Wait(re, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Wait is Expect returning an error instead of failing.
func (c *Console) Wait(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	return c.WaitFrom(0, re, timeout)
}

// Len is the number of lines so far: a mark for WaitFrom.
func (c *Console) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// WaitFrom is Wait looking only at lines from index from on (what the
// guest printed since a mark taken with Len).
func (c *Console) WaitFrom(from int, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := from; ; {
		for ; i < len(c.lines); i++ {
			if m := re.FindStringSubmatch(c.lines[i]); m != nil {
				return m, nil
			}
		}
		if c.eof {
			return nil, fmt.Errorf("console ended before a line matched %q", re)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no console line matched %q within %v", re, timeout)
		}
		c.cond.Wait()
	}
}

// Contains reports whether any line so far contains s.
func (c *Console) Contains(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// String returns the whole console so far.
func (c *Console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}
