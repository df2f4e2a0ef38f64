// Command initsvc is PID 1 inside the appliance. It mounts the kernel
// filesystems, loads kernel modules, sets the hostname, brings up the
// network with netlink, starts and supervises the services named in
// /etc/mkimage/init.json, and powers off cleanly on SIGTERM, SIGINT or the
// ACPI power button. It prints one console line per step, never panics and
// never exits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
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

func main() {
	con := console{start: time.Now()}
	defer func() {
		// PID 1 must never exit: the kernel would panic. Anything that
		// escapes is printed and the system is powered off instead.
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stdout, "init: internal error: %v\n%s", r, debug.Stack())
		}
		powerOff(con)
	}()
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "initsvc is the appliance's PID 1; it does not run on a host")
		os.Exit(2)
	}
	run(con)
}

func run(con console) {
	con.step("mount", mountAll(), "/proc /sys /dev /run /tmp")
	var cfg spec.Init
	if err := spec.Load(spec.InitPath, &cfg); err != nil {
		con.step("config", err, "")
		cfg.Hostname = "appliance"
	} else {
		con.step("config", nil, spec.InitPath)
	}
	if len(cfg.Modules) > 0 {
		con.step("modules", loadModules(cfg.Modules), fmt.Sprint(len(cfg.Modules), " loaded"))
	}
	con.step("hostname", unix.Sethostname([]byte(cfg.Hostname)), cfg.Hostname)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	setupNetwork(ctx, con, cfg.Network)

	sup := newSupervisor(con)
	stop := make(chan string, 4)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGPWR)
	go func() {
		s := <-sigs
		stop <- s.String()
	}()
	watchPowerButton(con, stop)
	sup.startAll(cfg)
	con.step("ready", nil, "")
	reason := <-stop
	con.step("shutdown", nil, "("+reason+")")
	sup.stopAll(5 * time.Second)
}
