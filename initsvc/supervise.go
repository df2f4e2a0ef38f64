package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"

	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
)

// supervisor starts services, restarts them with capped exponential backoff
// and stops them at shutdown.
type supervisor struct {
	con      console
	reaper   *reaper
	mu       sync.Mutex
	svcs     []*service
	stopping bool
}

type service struct {
	name     string
	cmd      func() *exec.Cmd
	pid      int
	restarts int
	done     chan struct{}
}

func newSupervisor(con console) *supervisor {
	return &supervisor{con: con, reaper: newReaper()}
}

func (s *supervisor) startAll(cfg spec.Init) {
	backends := map[string][]string{}
	for _, p := range cfg.Pools {
		backends[p.Name] = s.startPool(p)
	}
	if len(cfg.Pools) > 0 {
		s.con.step("front spec", writeRuntimeFront(backends), spec.RuntimeFrontPath)
	}
	for _, sv := range cfg.Services {
		sv := sv
		s.start(sv.Name, func() *exec.Cmd {
			c := exec.Command(sv.Path, sv.Args...)
			c.Env = append([]string{"PATH=/bin"}, sv.Env...)
			return c
		})
	}
}

// startPool creates each member's listening socket and starts the member
// with it as fd 0, as lighttpd's bin-path and spawn-fcgi do. Init keeps the
// socket open so a restarted member inherits the same one and no request
// is refused in between. It returns the backends for the front end.
func (s *supervisor) startPool(p spec.Pool) []string {
	if err := os.MkdirAll(spec.RunDir, 0o755); err != nil {
		s.con.step("pool "+p.Name, err, "")
		return nil
	}
	procs := p.Procs
	if procs == 0 {
		procs = runtime.NumCPU()
	}
	var backends []string
	for i := 0; i < procs; i++ {
		path := spec.SocketPath(p.Name, i)
		ln, err := listenUnix(path)
		if err != nil {
			s.con.step("pool "+p.Name, err, "")
			continue
		}
		backends = append(backends, "unix:"+path)
		env := poolEnv(p, i)
		s.start(fmt.Sprintf("%s.%d", p.Name, i), func() *exec.Cmd {
			c := exec.Command(p.Path, p.Args...)
			c.Env = env
			c.Stdin = ln
			return c
		})
	}
	s.con.step("pool "+p.Name, nil, fmt.Sprintf("%d processes", len(backends)))
	return backends
}

// writeRuntimeFront writes the front end's spec with each pool-backed app's
// sockets filled in.
func writeRuntimeFront(backends map[string][]string) error {
	var f spec.Front
	if err := spec.Load(spec.FrontPath, &f); err != nil {
		return err
	}
	for i, a := range f.Apps {
		if a.Pool != "" {
			f.Apps[i].Backends = backends[a.Pool]
		}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding front end spec: %w", err)
	}
	return os.WriteFile(spec.RuntimeFrontPath, data, 0o644)
}

func poolEnv(p spec.Pool, member int) []string {
	env := []string{"PATH=/bin", fmt.Sprintf("FCGI_POOL_MEMBER=%d", member)}
	for _, k := range p.CopyEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, p.Env...)
}

func listenUnix(path string) (*os.File, error) {
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	ln.Close()
	if err != nil {
		return nil, fmt.Errorf("getting the fd of %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		return nil, fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	return f, nil
}

func (s *supervisor) start(name string, mk func() *exec.Cmd) {
	sv := &service{name: name, cmd: mk, done: make(chan struct{})}
	s.mu.Lock()
	s.svcs = append(s.svcs, sv)
	s.mu.Unlock()
	go s.run(sv)
}

// run keeps one service running until shutdown. The backoff doubles from
// 100 ms to a 30 s cap and resets after the service ran for a minute.
func (s *supervisor) run(sv *service) {
	defer close(sv.done)
	backoff := 100 * time.Millisecond
	for {
		began := time.Now()
		err := s.spawn(sv)
		if s.isStopping() {
			return
		}
		if time.Since(began) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		sv.restarts++
		s.con.step("service "+sv.name, fmt.Errorf("exited (%v); restart %d in %v", err, sv.restarts, backoff), "")
		time.Sleep(backoff)
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (s *supervisor) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// spawn starts one run of sv and waits for it to exit. Output goes through
// a pipe init reads line by line, so each line carries the service's name.
func (s *supervisor) spawn(sv *service) error {
	c := sv.cmd()
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating output pipe: %w", err)
	}
	c.Stdout, c.Stderr = w, w
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = c.Start()
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	pid := c.Process.Pid
	exited := s.reaper.wait(pid)
	s.mu.Lock()
	sv.pid = pid
	s.mu.Unlock()
	s.con.step("start "+sv.name, nil, fmt.Sprintf("pid %d", pid))
	go copyLines(r, sv.name)
	ws := <-exited
	if ws.Exited() {
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	}
	return fmt.Errorf("killed by %v", ws.Signal())
}

// stopAll sends SIGTERM to every service's process group, waits up to grace,
// then SIGKILLs what is left. Orphans reparented to init are reaped too.
func (s *supervisor) stopAll(grace time.Duration) {
	s.mu.Lock()
	s.stopping = true
	svcs := append([]*service(nil), s.svcs...)
	s.mu.Unlock()
	for _, sv := range svcs {
		if sv.pid > 0 {
			_ = unix.Kill(-sv.pid, unix.SIGTERM)
		}
	}
	deadline := time.After(grace)
	for _, sv := range svcs {
		select {
		case <-sv.done:
		case <-deadline:
			s.con.step("stop "+sv.name, errors.New("did not stop in time; killing"), "")
			_ = unix.Kill(-sv.pid, unix.SIGKILL)
		}
	}
	s.con.step("services stopped", nil, fmt.Sprint(len(svcs)))
}

// copyLines prints each line a service writes, prefixed with its name.
func copyLines(r *os.File, name string) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		fmt.Fprintf(os.Stdout, "%s: %s\n", name, sc.Text())
	}
}
