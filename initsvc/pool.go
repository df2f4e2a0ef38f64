package initsvc

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/tuning"
)

// pool is a started FastCGI pool.
type pool struct {
	spec     spec.Pool
	settings tuning.Settings
	members  []*service
	backends []string
}

// startPool decides the pool's settings from the machine's facts, creates
// each member's listening socket and starts the member with it as fd 0,
// as lighttpd's bin-path and spawn-fcgi do, through the launcher that sets
// RLIMIT_STACK and drops every privilege (launch.go). Init keeps the sockets open, so a restarted member inherits
// the same one and no request is refused in between.
func (s *supervisor) startPool(p spec.Pool, facts tuning.Facts) *pool {
	set := tuning.Decide(facts, tuning.Request{
		Procs: p.Procs, StackSize: p.StackSize, MaxThreads: p.MaxThreads, BaseMiB: p.BaseMiB,
	})
	if p.MinSpare > 0 {
		set.MinSpare = min(p.MinSpare, set.MaxThreads)
	}
	if p.MaxSpare > 0 {
		set.MaxSpare = max(min(p.MaxSpare, set.MaxThreads), set.MinSpare)
	}
	for _, w := range set.Warnings {
		s.con.step("tuning "+p.Name, fmt.Errorf("warning: %s", w), "")
	}
	s.con.step("tuning "+p.Name, nil, set.String())
	pl := &pool{spec: p, settings: set}
	if p.UID < spec.FirstAppUID {
		s.con.step("pool "+p.Name, fmt.Errorf("uid %d is not an app's user: not starting it", p.UID), "")
		return pl
	}
	if err := os.MkdirAll(spec.RunDir, 0o755); err != nil {
		s.con.step("pool "+p.Name, err, "")
		return pl
	}
	for i := 0; i < set.Procs; i++ {
		path := spec.SocketPath(p.Name, i)
		ln, err := listenUnix(path)
		if err != nil {
			s.con.step("pool "+p.Name, err, "")
			continue
		}
		env := poolEnv(p, set, i, s.appEnv)
		pl.backends = append(pl.backends, "unix:"+path)
		m := s.start(fmt.Sprintf("%s.%d", p.Name, i), func() *exec.Cmd {
			return memberCmd(p, set.StackSize, env, ln)
		}, func() error { return probeFastCGI(path) })
		if m != nil {
			pl.members = append(pl.members, m)
		}
	}
	return pl
}

// memberCmd starts a pool member with its socket as fd 0 through the
// launcher, which, still root, sets the stack limit and becomes the app's
// user with no capability at all.
func memberCmd(p spec.Pool, stack uint64, env []string, ln *os.File) *exec.Cmd {
	ls := launchSpec{stack: stack, uid: p.UID, oom: oomApp}
	c := exec.Command("/init", launchArgs(ls, p.Path, p.Args)[1:]...)
	c.Env = env
	if ln != nil {
		c.Stdin = ln
	}
	return c
}

// poolEnv is a member's environment: the tuning decisions as the variables
// fcgiserver reads, GOMAXPROCS/GOMEMLIMIT for Go programs, the system's
// (extra: its version), the copied and the configured variables
// (configured ones win).
func poolEnv(p spec.Pool, set tuning.Settings, member int, extra []string) []string {
	env := []string{
		"PATH=/bin",
		fmt.Sprintf("FCGI_POOL_MEMBER=%d", member),
		fmt.Sprintf("FCGI_MAX_THREADS=%d", set.MaxThreads),
		fmt.Sprintf("FCGI_MIN_SPARE=%d", set.MinSpare),
		fmt.Sprintf("FCGI_MAX_SPARE=%d", set.MaxSpare),
		fmt.Sprintf("FCGI_STACK_SIZE=%d", set.StackSize),
		fmt.Sprintf("GOMAXPROCS=%d", set.GOMAXPROCS),
		fmt.Sprintf("GOMEMLIMIT=%d", set.GOMEMLIMIT),
		"DATA_DIR=" + p.DataDir,
	}
	if p.MaxRequests > 0 {
		env = append(env, fmt.Sprintf("FCGI_MAX_REQUESTS=%d", p.MaxRequests))
	}
	if p.RequestTimeout != "" {
		env = append(env, "FCGI_REQUEST_TIMEOUT="+p.RequestTimeout)
	}
	env = append(env, extra...)
	for _, k := range p.CopyEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, p.Env...)
}

// listenUnix creates a listening socket the front end (and only it) may
// connect to, and returns it as a file to pass as a child's fd 0.
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
	if err := os.Chown(path, 0, spec.FrontUID); err != nil {
		return nil, fmt.Errorf("setting the owner of %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		return nil, fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	return f, nil
}

// writeRuntimeFront writes the front end's spec with each pool-backed app's
// sockets filled in.
func writeRuntimeFront(pools map[string]*pool) error {
	var f spec.Front
	if err := spec.Load(spec.FrontPath, &f); err != nil {
		return err
	}
	for i, a := range f.Apps {
		if p, ok := pools[a.Pool]; ok {
			f.Apps[i].Backends = p.backends
		}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding front end spec: %w", err)
	}
	return os.WriteFile(spec.RuntimeFrontPath, data, 0o644)
}

// probeTCP is the front end's readiness: its port accepts connections.
func probeTCP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// probeFastCGI is a pool member's readiness: it answers FCGI_GET_VALUES on
// its socket. Any FastCGI program does, php-cgi included; a connect alone
// would succeed as soon as init created the socket.
func probeFastCGI(path string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	q := record.AppendPair(nil, record.ValueMaxConns, "")
	if _, err := c.Write(record.AppendRecord(nil, record.TypeGetValues, 0, q)); err != nil {
		return fmt.Errorf("asking for FCGI_MAX_CONNS: %w", err)
	}
	rec, err := record.NewReader(c).Next()
	if err != nil {
		return fmt.Errorf("reading the answer to GET_VALUES: %w", err)
	}
	if rec.Type != record.TypeGetValuesResult {
		return fmt.Errorf("GET_VALUES answered with record type %d", rec.Type)
	}
	return nil
}
