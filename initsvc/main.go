// Package initsvc is PID 1 inside the appliance (Main, the init command of
// its multi-call binary /init, cmd/guest). It mounts the kernel
// filesystems, loads kernel modules, sets the hostname, brings up the
// network with netlink, starts and supervises the services named in
// /etc/mkimage/init.json, and powers off cleanly on SIGTERM, SIGINT or the
// ACPI power button. It prints one console line per step, never panics and
// never exits.
package initsvc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/tuning"
)

// console prints init's step lines; the format "init: STEP: RESULT" is what
// boot tests and users look for on the serial console.
type console struct{ start time.Time }

func (c console) step(name string, err error, detail string) {
	t := time.Since(c.start).Milliseconds()
	if err != nil {
		fmt.Fprintf(os.Stdout, "init: %s: FAILED: %v [%d ms]\n", name, err, t)
		return
	}
	if detail != "" {
		detail = " " + detail
	}
	fmt.Fprintf(os.Stdout, "init: %s: ok%s [%d ms]\n", name, detail, t)
}

// Main runs init, or the launcher when /init runs itself with launchFlag.
// It never returns: PID 1 must not exit.
func Main() {
	con := console{start: time.Now()}
	defer func() {
		// PID 1 must never exit: the kernel would panic. Anything that
		// escapes is printed and the system is powered off instead.
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stdout, "init: internal error: %v\n%s", r, debug.Stack())
		}
		powerOff(con)
	}()
	if os.Getpid() != 1 && len(os.Args) > 1 && os.Args[1] == launchFlag {
		launch(os.Args[2:])
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "initsvc is the appliance's PID 1; it does not run on a host")
		os.Exit(2)
	}
	run(con)
}

func run(con console) {
	con.step("mount", mountAll(), "/proc /sys /dev /run /tmp")
	cut := checkInitramfs(spec.InitramfsEndPath)
	con.step("root", cut, describeRoot("/")+", complete")
	var cfg spec.Init
	if err := spec.Load(spec.InitPath, &cfg); err != nil {
		con.step("config", err, "")
		cfg.Hostname = "appliance"
	} else {
		con.step("config", nil, spec.InitPath)
	}
	dog := armTrialWatchdog(con, cfg.Update)
	if len(cfg.Modules) > 0 {
		con.step("modules", loadModules(cfg.Modules), fmt.Sprint(len(cfg.Modules), " loaded"))
	}
	con.step("hostname", unix.Sethostname([]byte(cfg.Hostname)), cfg.Hostname)
	disk := setupData(con, cfg.Pools)
	upd := setupUpdates(con, cfg.Update, disk, dog)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	setupNetwork(ctx, con, cfg.Network)
	if len(cfg.NTP) > 0 {
		go clockSync(ctx, con, cfg.NTP)
	}

	facts, err := gatherFacts()
	con.step("facts", err, fmt.Sprintf("mem=%dMiB cpus=%d cores=%d", facts.MemTotal>>20, facts.OnlineCPUs, facts.PhysicalCores))

	stop := make(chan string, 4)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGPWR, unix.SIGUSR1)
	go func() {
		s := <-sigs
		if s == unix.SIGUSR1 { // the update agent installed an update
			stop <- "reboot: an update was installed"
			return
		}
		stop <- s.String()
	}()
	watchPowerButton(con, stop)

	sup := newSupervisor(con)
	sup.appEnv = versionEnv(cfg.Update, upd)
	// Services start in the background so a power button press or a
	// SIGTERM is honoured at any time, even while a pool is not ready.
	if upd != nil && upd.trial.Load() {
		go upd.guard(stop)
	}
	go func() {
		if upd != nil {
			upd.startAgent(sup)
		}
		ready := startServices(con, sup, cfg, facts, updateReporter(cfg.Update, upd))
		if upd != nil && upd.trial.Load() {
			upd.judge(ctx, errors.Join(cut, ready), sup.restarts, stop)
		}
	}()
	reason := <-stop
	con.step("shutdown", nil, "("+reason+")")
	sup.stopAll(5 * time.Second)
	if strings.HasPrefix(reason, "reboot") {
		var arg func() (string, error)
		if upd != nil {
			arg = upd.loader.RebootArg
		}
		reboot(con, arg)
	}
}

// startServices starts the pools, the status server and the front end,
// then waits for the pools and prints "ready" once the front end accepts;
// it returns why the appliance is not fully up (a pool that never
// answered, the front end), or nil: a trial's judge fails on either. The
// front end does not wait for the pools (that took a second of every boot
// under TCG): init has bound their sockets, so a request that comes before
// an app is up waits in its socket's backlog, and the front end asks an
// app that has not yet answered FCGI_GET_VALUES again (fcgiclient's
// keep.go).
func startServices(con console, sup *supervisor, cfg spec.Init, facts tuning.Facts, update func() *spec.UpdateReport) error {
	pools := startPools(con, sup, cfg, facts)
	st := &status{sup: sup, pools: pools, facts: facts, boot: con.start, update: update}
	con.step("status", st.serve(spec.StatusSocket), spec.StatusSocket)
	var front []*service
	for _, sv := range cfg.Services {
		if f := sup.startService(sv); f != nil {
			front = append(front, f)
		}
	}
	poolErr := waitPools(con, cfg, pools)
	err := waitReady(front, 60*time.Second)
	con.step("ready", err, "")
	return errors.Join(poolErr, err)
}

// startPools starts every pool and writes the front end's runtime spec
// with their sockets.
func startPools(con console, sup *supervisor, cfg spec.Init, facts tuning.Facts) map[string]*pool {
	pools := map[string]*pool{}
	for _, p := range cfg.Pools {
		pools[p.Name] = sup.startPool(p, facts)
	}
	if len(pools) > 0 {
		con.step("front spec", writeRuntimeFront(pools), spec.RuntimeFrontPath)
	}
	return pools
}

// waitPools waits until every pool's members answer FastCGI, in the
// config's order, and returns why any pool is not ready.
func waitPools(con console, cfg spec.Init, pools map[string]*pool) error {
	var errs []error
	for _, p := range cfg.Pools {
		pl := pools[p.Name]
		err := waitReady(pl.members, 60*time.Second)
		con.step("pool "+p.Name, err, fmt.Sprintf("%d processes ready", len(pl.members)))
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}
