package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
)

// build compiles the front end and the example app into dir.
func build(dir string) (front, app string, err error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "", "", fmt.Errorf("finding the module (go env GOMOD): %w", err)
	}
	mod := filepath.Dir(strings.TrimSpace(string(out)))
	front, app = filepath.Join(dir, "httpfront"), filepath.Join(dir, "fcgiapp")
	for bin, pkg := range map[string]string{front: "./httpfront/cmd/httpfront", app: "./examples/fcgiapp"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = mod
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("building %s: %w\n%s", pkg, err, out)
		}
	}
	return front, app, nil
}

// proc is a child process whose output is drained: stdout counted (the
// access log), the last lines of stderr kept.
type proc struct {
	cmd                         *exec.Cmd
	exited                      chan struct{} // closed when the process has exited
	state                       *os.ProcessState
	logMu                       sync.Mutex
	outLines, outBytes, longest int64
	errTail                     []string
	errN                        int64
}

// start starts cmd with its output drained.
func start(cmd *exec.Cmd) (*proc, error) {
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.Path, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.Path, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	var drained sync.WaitGroup
	drained.Go(func() { p.drainOut(stdout) })
	drained.Go(func() { p.drainErr(stderr) })
	go func() {
		drained.Wait() // Wait closes the pipes: read them to the end first
		cmd.Wait()
		p.state = cmd.ProcessState
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) drainOut(rd io.Reader) {
	br := bufio.NewReaderSize(rd, 64<<10)
	var line int64
	for {
		b, err := br.ReadSlice('\n')
		line += int64(len(b))
		p.logMu.Lock()
		p.outBytes += int64(len(b))
		if err == nil {
			p.outLines++
			p.longest = max(p.longest, line)
			line = 0
		}
		p.logMu.Unlock()
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (p *proc) drainErr(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.logMu.Lock()
		p.errN++
		p.errTail = append(p.errTail, sc.Text())
		if len(p.errTail) > 20 {
			p.errTail = p.errTail[1:]
		}
		p.logMu.Unlock()
	}
}

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop ends the process (it is ours, by its PID) and waits for it.
func (p *proc) stop() {
	if p.alive() {
		p.cmd.Process.Kill()
	}
	<-p.exited
}

// startApp starts examples/fcgiapp with a listening unix socket at sock
// on its fd 0, as init does.
func startApp(bin, sock string) (*proc, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening for the app: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		return nil, fmt.Errorf("the app's socket: %w", err)
	}
	defer f.Close()
	cmd := exec.Command(bin)
	cmd.Stdin = f
	return start(cmd)
}

// startFront writes the front end's spec and starts it on addr with at
// most fdLimit descriptors (soft and hard: a Go program raises its soft
// limit to the hard one).
func startFront(bin, dir, addr string, cfg spec.Front, fdLimit int) (*proc, error) {
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("the front end's spec: %w", err)
	}
	path := filepath.Join(dir, "front.json")
	if err := os.WriteFile(path, js, 0o644); err != nil {
		return nil, fmt.Errorf("writing the front end's spec: %w", err)
	}
	p, err := start(exec.Command(bin, "-config", path, "-listen", addr))
	if err != nil {
		return nil, err
	}
	lim := unix.Rlimit{Cur: uint64(fdLimit), Max: uint64(fdLimit)}
	if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		p.stop()
		return nil, fmt.Errorf("limiting the front end's descriptors: %w", err)
	}
	return p, nil
}

// freeAddr returns a loopback address with a free port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitServing waits until url answers 200, for at most d.
func waitServing(url string, d time.Duration, p *proc) error {
	cl := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !p.alive() {
			return fmt.Errorf("%s exited while starting: %s", p.cmd.Path, p.lastErr())
		}
		resp, err := cl.Get(url)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("%s did not answer 200 within %v: %s", url, d, p.lastErr())
}

// lastErr is the process's last lines on stderr.
func (p *proc) lastErr() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return strings.Join(p.errTail, "\n")
}
