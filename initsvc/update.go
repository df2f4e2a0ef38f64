package initsvc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater/slots"
)

// updates is the appliance's side of signed A/B updates: the boot state
// read at boot (is this a trial, did one fail), the agent that receives
// bundles, and the trial's judge.
type updates struct {
	con     console
	u       spec.Update
	disk    string // the disk holding the data and slot partitions
	running string // the slot booted (kernel command line, or a Pi's device tree)
	mode    string // how GRUB booted it: committed, trial, fallback ("" on a Pi)
	loader  slots.Loader
	store   slots.Store
	trial   atomic.Bool // this boot is a trial not yet judged
	dog     *watchdog
	once    sync.Once // one verdict per trial
}

// setupUpdates reads the boot state and, for a trial boot, keeps the
// watchdog init armed first (dog, see armTrialWatchdog) or starts it; it
// returns nil when updates are off or the machine was booted without its
// disk (a direct kernel boot has no slots). A watchdog no trial needs is
// disarmed.
func setupUpdates(con console, u *spec.Update, disk string, dog *watchdog) (up *updates) {
	defer func() {
		if dog != nil && (up == nil || up.dog != dog) {
			con.step("watchdog", dog.disarm(), "off: not a trial")
		}
	}()
	if u == nil {
		return nil
	}
	up = &updates{con: con, u: *u, disk: disk, store: slots.Store{Dir: spec.UpdateStateDir},
		mode: cmdlineValue(spec.BootModeParam + "=")}
	running, err := runningSlot(*u)
	if err != nil {
		con.step("update", err, "off: the firmware did not say which slot it booted")
		return nil
	}
	up.running = running
	if up.running == "" || disk == "" {
		con.step("update", nil, "off: booted without the disk image (no slots)")
		return nil
	}
	if err := up.mountBoot(); err != nil {
		con.step("update", err, "")
		return nil
	}
	st, err := up.loader.State()
	if err != nil {
		con.step("update", err, "")
		return nil
	}
	trial, failed := slots.AtBoot(up.running, st)
	if failed != "" {
		con.step("update", up.recordFailed(failed), fmt.Sprintf("slot %s: the trial of slot %s failed", up.running, failed))
	}
	if !trial && failed == "" {
		up.recordCommitted(st)
	}
	up.trial.Store(trial)
	if trial {
		if up.dog = dog; dog == nil {
			var err error
			up.dog, err = startWatchdog(trialWatchdogTimeout)
			con.step("watchdog", err, "60 s, while the trial runs")
		}
		con.step("update", nil, fmt.Sprintf("slot %s (version %s) is on trial: committed slot %s", up.running, u.Version, st.Committed))
	}
	return up
}

// runningSlot is the slot booted: GRUB names it on the kernel command
// line; a Pi's firmware names the partition in the device tree (the slots
// hold the same bytes, so no cmdline.txt can).
func runningSlot(u spec.Update) (string, error) {
	if u.Loader == spec.LoaderTryBoot {
		return slots.TryBoot{Slots: u.Slots}.Running()
	}
	return cmdlineValue(spec.SlotParam + "="), nil
}

// mountBoot mounts the boot partition (FAT) where the boot loader keeps
// its A/B state: GRUB's environment block, or a Pi's autoboot.txt.
func (up *updates) mountBoot() error {
	dev, err := slots.PartitionDev(up.disk, up.u.BootPart)
	if err != nil {
		return err
	}
	// RunDir first, world-readable: the front end reads its spec there.
	if err := os.MkdirAll(spec.RunDir, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(spec.BootMount, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	if err := unix.Mount(dev, spec.BootMount, "vfat", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_NOATIME, "umask=077"); err != nil {
		return fmt.Errorf("mounting the boot partition %s: %w", dev, err)
	}
	mounts = append(mounts, mount{dev, spec.BootMount, "vfat", 0, ""})
	up.loader = slots.NewLoader(up.u, spec.BootMount)
	return nil
}

// recordFailed writes the verdict of a trial that ended without one (its
// system never judged itself: a panic, hang, reset or power cut), unless
// the trial recorded its own reason before rebooting, and clears it.
func (up *updates) recordFailed(slot string) error {
	p, ok := up.store.Pending()
	if ok && p.Slot == slot {
		err := up.store.Judge(spec.TrialResult{Slot: slot, Version: p.Version, From: p.From, Result: spec.TrialRolledBack,
			Reason: "the new system did not judge itself: it panicked, hung, was reset or lost power during its trial", At: time.Now().UTC()})
		if err != nil {
			return err
		}
	}
	return up.loader.Forget()
}

// recordCommitted writes the verdict of a trial whose commit reached the
// boot loader's state but not /data: judge commits the boot loader's
// state first and records the verdict after it, so a power cut between the
// two boots the new slot committed with its update still pending (and the
// status would name an older trial as the last).
func (up *updates) recordCommitted(st slots.BootState) {
	p, ok := up.store.Pending()
	if !ok || p.Slot != up.running || st.Committed != up.running || p.Version != up.u.Version {
		return
	}
	err := up.store.Judge(spec.TrialResult{Slot: up.running, Version: p.Version, From: p.From,
		Result: spec.TrialCommitted, At: time.Now().UTC()})
	up.con.step("update", err, fmt.Sprintf("version %s in slot %s was committed before the power went: recorded", p.Version, up.running))
}

// otherSlot is the slot that is not running.
func (up *updates) otherSlot() string {
	if up.running == "a" {
		return "b"
	}
	return "a"
}

var errTrial = errors.New("the trial failed")

// deadline is the trial's end, counted from boot.
func (up *updates) deadline() time.Time {
	return up.con.start.Add(time.Duration(up.u.DeadlineMS) * time.Millisecond)
}

// guard fails the trial when its deadline passes before a verdict, even
// if init never got ready (a pool that never answers, a stuck step). It
// waits a little longer than the judge, whose own reason (a health check
// that did not pass) is the better one when it has one.
func (up *updates) guard(stop chan<- string) {
	time.Sleep(time.Until(up.deadline().Add(10 * time.Second)))
	up.fail("the trial's deadline passed before init was ready", stop)
}

// judge decides the trial once init is ready (ready is its result): the
// health URL must answer 2xx before the deadline and the services must
// stay up; then the slot is committed, else the verdict is recorded and
// the machine reboots into the committed slot.
func (up *updates) judge(ctx context.Context, ready error, restarts func() int, stop chan<- string) {
	ctx, cancel := context.WithDeadline(ctx, up.deadline())
	defer cancel()
	if reason := up.check(ctx, ready, restarts); reason != "" {
		up.fail(reason, stop)
		return
	}
	up.once.Do(func() {
		p, _ := up.store.Pending()
		err := up.loader.Commit(up.running)
		if err == nil {
			err = up.store.Judge(spec.TrialResult{Slot: up.running, Version: up.u.Version, From: p.From,
				Result: spec.TrialCommitted, At: time.Now().UTC()})
		}
		up.con.step("update", err, fmt.Sprintf("version %s committed: slot %s boots from now on", up.u.Version, up.running))
		if up.dog != nil {
			up.con.step("watchdog", up.dog.disarm(), "off")
		}
		up.trial.Store(false)
	})
}

// fail records the trial's failure and reboots into the committed slot
// (GRUB already cleared the one-shot trial; a Pi's plain reboot is no
// tryboot).
func (up *updates) fail(reason string, stop chan<- string) {
	up.once.Do(func() {
		p, _ := up.store.Pending()
		up.con.step("update", fmt.Errorf("%w: %s", errTrial, reason), "going back to the committed slot")
		err := up.store.Judge(spec.TrialResult{Slot: up.running, Version: up.u.Version, From: p.From,
			Result: spec.TrialRolledBack, Reason: reason, At: time.Now().UTC()})
		if err != nil {
			up.con.step("update", err, "")
		}
		stop <- "reboot: the trial of " + up.u.Version + " failed"
	})
}

// check returns why the trial fails, or "".
func (up *updates) check(ctx context.Context, ready error, restarts func() int) string {
	if ready != nil {
		return "init was not ready: " + ready.Error()
	}
	before := restarts()
	if up.u.Health != "" {
		if err := waitHealthy(ctx, up.u.Health); err != nil {
			return err.Error()
		}
	}
	// Settle: the services must stay up a few seconds (a crash loop).
	select {
	case <-ctx.Done():
		return "the trial's deadline passed"
	case <-time.After(3 * time.Second):
	}
	if n := restarts() - before; n > 0 {
		return strconv.Itoa(n) + " service restarts during the trial"
	}
	return ""
}

// waitHealthy asks the front end for path until it answers 2xx or ctx
// ends. A plain HTTP/1.0 GET on a socket: init carries no HTTP stack.
func waitHealthy(ctx context.Context, path string) error {
	last := "no answer"
	for {
		code, err := httpGetStatus(ctx, "127.0.0.1:80", path)
		if err == nil && code/100 == 2 {
			return nil
		}
		if err == nil {
			last = "answered " + strconv.Itoa(code)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the health check %s did not pass before the deadline (%s)", path, last)
		case <-time.After(time.Second):
		}
	}
}

// httpGetStatus sends GET path to addr and returns the status code.
func httpGetStatus(ctx context.Context, addr, path string) (int, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: mkimage-init\r\n\r\n", path); err != nil {
		return 0, err
	}
	line, err := bufio.NewReaderSize(c, 512).ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return 0, fmt.Errorf("not an HTTP answer: %q", line)
	}
	return strconv.Atoi(f[1])
}

// startAgent runs the update agent (/bin/updated) as a root service: it
// needs the slot's block device and the boot partition.
func (up *updates) startAgent(sup *supervisor) {
	sup.startService(spec.Service{Name: "updated", Path: spec.BinDir + "/updated",
		Args: []string{"-disk", up.disk, "-running", up.running}})
}
