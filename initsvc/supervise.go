package initsvc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
)

// supervisor starts services, restarts them with capped exponential backoff
// and stops them at shutdown. Every service runs in its own process group.
type supervisor struct {
	con      console
	out      *outQueue // service output on its way to the console
	reaper   *reaper
	mu       sync.Mutex
	svcs     []*service
	stopping bool
	stopCh   chan struct{} // closed when shutdown begins
	appEnv   []string      // added to every pool member's environment (versionEnv)
}

// service is one supervised program.
type service struct {
	name  string
	cmd   func() *exec.Cmd
	ready func() error // nil: ready once started
	errs  *ring        // stderr lines of the current run
	done  chan struct{}

	mu       sync.Mutex
	state    string // starting, ready, running, backoff, stopped
	pid      int
	restarts int
	lastExit string
	crash    []string // stderr lines before the last exit, queries cut
	since    time.Time
}

// Each service keeps its last stderr lines for the crash report: at most
// ringLines lines and ringBytes bytes.
const (
	ringLines = 20
	ringBytes = 16 << 10
)

func newSupervisor(con console) *supervisor {
	return &supervisor{
		con: con, out: newOutQueue(os.Stdout, consoleQueueBytes),
		reaper: newReaper(), stopCh: make(chan struct{}),
	}
}

func (s *supervisor) start(name string, mk func() *exec.Cmd, ready func() error) *service {
	sv := &service{name: name, cmd: mk, ready: ready, errs: newRing(ringLines, ringBytes), done: make(chan struct{}), state: "starting"}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return nil
	}
	s.svcs = append(s.svcs, sv)
	s.mu.Unlock()
	go s.run(sv)
	return sv
}

func (sv *service) set(f func(*service)) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	f(sv)
}

// backoff doubles from 100 ms to a 30 s cap.
type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = 100 * time.Millisecond
	} else {
		b.d = min(b.d*2, 30*time.Second)
	}
	return b.d
}

func (b *backoff) reset() { b.d = 0 }

// run keeps one service running until shutdown; the backoff resets after
// the service ran for a minute.
func (s *supervisor) run(sv *service) {
	defer close(sv.done)
	var b backoff
	for !s.isStopping() {
		began := time.Now()
		err := s.spawn(sv)
		if s.isStopping() {
			sv.set(func(sv *service) { sv.state, sv.pid = "stopped", 0 })
			return
		}
		if time.Since(began) > time.Minute {
			b.reset()
		}
		wait := b.next()
		lines := sv.errs.take()
		sv.set(func(sv *service) {
			sv.restarts++
			sv.state, sv.pid, sv.lastExit = "backoff", 0, err.Error()
			sv.crash = cutQueries(lines)
		})
		s.con.step("service "+sv.name, fmt.Errorf("%v; restart %d in %v; last output:\n  %s",
			err, sv.restarts, wait, strings.Join(lines, "\n  ")), "")
		select {
		case <-time.After(wait):
		case <-s.stopCh:
			sv.set(func(sv *service) { sv.state = "stopped" })
			return
		}
	}
	sv.set(func(sv *service) { sv.state = "stopped" })
}

// spawn starts one run of sv and waits for it to exit. Its stdout and
// stderr are two pipes init reads line by line, so each line carries the
// service's name; stderr lines are also kept for the crash report.
func (s *supervisor) spawn(sv *service) error {
	c := sv.cmd()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating the stdout pipe of %s: %w", sv.name, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("creating the stderr pipe of %s: %w", sv.name, err)
	}
	c.Stdout, c.Stderr = outW, errW
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{}
	}
	c.SysProcAttr.Setpgid = true
	err = c.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	pid := c.Process.Pid
	exited := s.reaper.wait(pid)
	sv.set(func(sv *service) { sv.pid, sv.state, sv.since = pid, "starting", time.Now() })
	s.con.step("start "+sv.name, nil, fmt.Sprintf("pid %d", pid))
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); s.copyLines(outR, sv, nil) }()
	go func() { defer readers.Done(); s.copyLines(errR, sv, sv.errs) }()
	go s.awaitReady(sv, pid)
	ws := <-exited
	waitTimeout(&readers, drainTime)
	if ws.Exited() {
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	}
	return fmt.Errorf("killed by %s (%v)", unix.SignalName(ws.Signal()), ws.Signal())
}

// drainTime is how long init waits after a service exited for the last
// lines in its pipes (a child the service left behind may hold them open
// for longer; its lines are still read and printed).
const drainTime = 500 * time.Millisecond

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// awaitReady runs the service's readiness check until it passes or the
// process is gone.
func (s *supervisor) awaitReady(sv *service, pid int) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		sv.mu.Lock()
		same := sv.pid == pid
		sv.mu.Unlock()
		if !same {
			return
		}
		if sv.ready == nil || sv.ready() == nil {
			sv.set(func(sv *service) {
				if sv.pid == pid {
					sv.state = "ready"
				}
			})
			return
		}
		if time.Now().After(deadline) {
			s.con.step("ready "+sv.name, errors.New("not ready after 60 s"), "")
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady waits until every service in svcs is ready or timeout passes.
func waitReady(svcs []*service, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, sv := range svcs {
		for {
			sv.mu.Lock()
			st, last := sv.state, sv.lastExit
			sv.mu.Unlock()
			if st == "ready" {
				break
			}
			if time.Now().After(deadline) {
				if last != "" {
					return fmt.Errorf("%s is %s after %v (last exit: %s)", sv.name, st, timeout, last)
				}
				return fmt.Errorf("%s is %s after %v", sv.name, st, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func (s *supervisor) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// stopAll sends SIGTERM to every service's process group, waits up to grace,
// then SIGKILLs what is left. Services stop in reverse start order: the
// front end first, then the pool.
func (s *supervisor) stopAll(grace time.Duration) {
	s.mu.Lock()
	if !s.stopping {
		s.stopping = true
		close(s.stopCh)
	}
	svcs := append([]*service(nil), s.svcs...)
	s.mu.Unlock()
	for i := len(svcs) - 1; i >= 0; i-- {
		if pid := svcs[i].getPid(); pid > 0 {
			_ = unix.Kill(-pid, unix.SIGTERM)
		}
	}
	deadline := time.After(grace)
	for _, sv := range svcs {
		select {
		case <-sv.done:
		case <-deadline:
			s.con.step("stop "+sv.name, errors.New("did not stop in time; killing"), "")
			if pid := sv.getPid(); pid > 0 {
				_ = unix.Kill(-pid, unix.SIGKILL)
			}
			<-sv.done
		}
	}
	// Their last lines reach the console before init powers off, unless
	// the console is stuck.
	s.out.close(2 * time.Second)
	s.con.step("services stopped", nil, fmt.Sprint(len(svcs)))
}

func (sv *service) getPid() int {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.pid
}

// copyLines queues each line a service writes for the console, prefixed
// with its name, and keeps it in keep when that is not nil. It reads until
// every writer closed the pipe: no line and no console makes it stop
// early, so a service never sees its output pipe broken.
func (s *supervisor) copyLines(r *os.File, sv *service, keep *ring) {
	defer r.Close()
	prefix := sv.name + ": "
	err := readLines(r, maxLineBytes, func(line string) {
		if keep != nil {
			keep.add(line)
		}
		s.out.put(prefix + line)
	})
	if err != nil {
		s.con.step("output "+sv.name, err, "")
	}
}

// startService starts a plain service from the spec. One that names a UID
// starts through the launcher, which becomes that user with no_new_privs,
// locked securebits and a bounding set holding only
// CAP_NET_BIND_SERVICE when asked for, nothing otherwise.
func (s *supervisor) startService(sv spec.Service) *service {
	var ready func() error
	if addr, ok := strings.CutPrefix(sv.Ready, "tcp:"); ok {
		ready = func() error { return probeTCP(addr) }
	}
	return s.start(sv.Name, func() *exec.Cmd { return serviceCmd(sv) }, ready)
}

func serviceCmd(sv spec.Service) *exec.Cmd {
	c := exec.Command(sv.Path, sv.Args...)
	if sv.UID != 0 {
		ls := launchSpec{uid: sv.UID, oom: oomService}
		if sv.BindLowPorts {
			ls.caps = []int{unix.CAP_NET_BIND_SERVICE}
		}
		c = exec.Command("/init", launchArgs(ls, sv.Path, sv.Args)[1:]...)
	}
	c.Env = append([]string{"PATH=/bin"}, sv.Env...)
	return c
}

// restarts is the number of restarts of every service so far.
func (s *supervisor) restarts() int {
	s.mu.Lock()
	svcs := append([]*service(nil), s.svcs...)
	s.mu.Unlock()
	n := 0
	for _, sv := range svcs {
		sv.mu.Lock()
		n += sv.restarts
		sv.mu.Unlock()
	}
	return n
}
