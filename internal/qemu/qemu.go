// Package qemu boots a built image under QEMU: it picks the accelerator
// (KVM only when a real probe boot succeeds, else TCG), forwards a free
// 127.0.0.1 port to the guest's HTTP port over restricted user networking,
// streams the serial console and powers the guest off through QMP.
package qemu

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/manifest"
)

// Options tune one boot.
type Options struct {
	// Accel is "kvm", "tcg" or "" (probe; MKIMAGE_ACCEL overrides).
	Accel string
	// Memory in MiB and SMP override the board's defaults when set.
	Memory, SMP int
	// Console receives the guest's serial output; nil discards.
	Console io.Writer
	// HostPort is the 127.0.0.1 port forwarded to the guest's HTTP port;
	// 0 picks a free one. UpdateHostPort is the same for the update
	// agent's port, for images that take updates.
	HostPort, UpdateHostPort int
	// HTTPSHostPort is the 127.0.0.1 port forwarded to the guest's HTTPS
	// port, for images that serve HTTPS; 0 picks a free one.
	HTTPSHostPort int
	// GuestFwds let the guest reach services on the host's loopback,
	// each connection relayed by the command line Relay (see GuestFwd).
	GuestFwds []GuestFwd
	Relay     string
	// ExtraArgs are appended to QEMU's command line.
	ExtraArgs []string
	// Boot is "direct" (default), "bios" or "uefi"; Disk, DiskSize and
	// Snapshot say which disk image to attach and how (see disk.go).
	Boot     string
	Disk     string
	DiskSize int64
	Snapshot bool
	// boot holds the arguments prepared by prepareBoot.
	boot []string
}

// Machine is a running guest.
type Machine struct {
	Cmd      *exec.Cmd
	HostPort int
	// UpdatePort is the 127.0.0.1 port forwarded to the update agent (0:
	// none: the image takes no updates, or the boot is direct, without
	// slots).
	UpdatePort int
	// HTTPSPort is the 127.0.0.1 port forwarded to the guest's HTTPS port
	// (0: the image serves no HTTPS).
	HTTPSPort int
	Accel     string
	qmpPath   string
	tmp       string
	done      chan struct{}
	waitErr   error
	stopOnce  sync.Once
}

// TimeoutScale returns MKIMAGE_TIMEOUT_SCALE (default 1): every timeout
// that waits on a guest is multiplied by it.
func TimeoutScale() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("MKIMAGE_TIMEOUT_SCALE"), 64); err == nil && v > 0 {
		return v
	}
	return 1
}

// Scaled returns d multiplied by TimeoutScale.
func Scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * TimeoutScale()) }

// Start boots the image in dir.
func Start(ctx context.Context, dir string, opts Options) (*Machine, error) {
	m, err := manifest.Read(dir)
	if err != nil {
		return nil, err
	}
	b, err := board.Lookup(m.Board)
	if err != nil {
		return nil, fmt.Errorf("image in %s: %w", dir, err)
	}
	if b.QEMU.Binary == "" {
		return nil, fmt.Errorf("board %s cannot run under QEMU (write %s to its medium instead: mkimage flash)", b.Name, filepath.Join(dir, "disk.img"))
	}
	if _, err := exec.LookPath(b.QEMU.Binary); err != nil {
		pkg := b.QEMU.Boot.Package
		if pkg == "" {
			pkg = "qemu-system-x86"
		}
		return nil, fmt.Errorf("%s is not installed (Debian: apt-get install %s): %w", b.QEMU.Binary, pkg, err)
	}
	accel, err := chooseAccel(ctx, b, m, dir, opts.Accel)
	if err != nil {
		return nil, err
	}
	port := opts.HostPort
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	} else if err := portFree(port); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "mkimage-qemu-")
	if err != nil {
		return nil, fmt.Errorf("creating QEMU runtime directory: %w", err)
	}
	mc := &Machine{HostPort: port, Accel: accel, qmpPath: filepath.Join(tmp, "qmp.sock"), tmp: tmp, done: make(chan struct{})}
	fwd := fmt.Sprintf("hostfwd=tcp:127.0.0.1:%d-:%d", port, m.HTTPPort)
	// Only a disk boot has slots: the agent runs only then.
	if updatesFromDisk(b, m, opts) {
		if mc.UpdatePort = opts.UpdateHostPort; mc.UpdatePort == 0 {
			if mc.UpdatePort, err = FreePort(); err != nil {
				os.RemoveAll(tmp)
				return nil, err
			}
		}
		fwd += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", mc.UpdatePort, m.UpdatePort)
	}
	more, err := mc.forwards(m, opts)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	fwd += more
	if opts.boot, err = prepareBoot(b, m, dir, tmp, opts); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	args := commandLine(b, m, dir, accel, opts)
	args = append(args,
		"-netdev", "user,id=n0,restrict=on,"+fwd,
		"-device", b.QEMU.NIC+",netdev=n0",
		"-qmp", "unix:"+mc.qmpPath+",server=on,wait=off")
	args = append(args, opts.ExtraArgs...)
	mc.Cmd = exec.Command(b.QEMU.Binary, args...)
	if err := mc.start(opts.Console); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return mc, nil
}

// commandLine returns QEMU's arguments for a direct kernel boot, without
// networking.
func commandLine(b board.Board, m *manifest.Manifest, dir, accel string, opts Options) []string {
	mem, smp := b.QEMU.Memory, b.QEMU.SMP
	if opts.Memory > 0 {
		mem = opts.Memory
	} else if opts.Boot == board.BootUEFI {
		mem = max(mem, b.QEMU.Boot.UEFIMemory)
	}
	if opts.SMP > 0 {
		smp = opts.SMP
	}
	cpu, acc := b.QEMU.CPU, accel
	if accel == "kvm" {
		cpu = "host"
	} else if smp > 1 {
		// Multi-threaded TCG lets one vCPU run code another is patching
		// (the kernel's int3-based text_poke): the gokrazy kernel oopsed
		// in 2 of 31 -smp 2 boots that way. One TCG thread avoids it.
		acc = "tcg,thread=single"
	}
	args := []string{
		"-M", b.QEMU.Machine, "-accel", acc, "-cpu", cpu,
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(smp),
		"-nodefaults", "-no-user-config", "-display", "none",
	}
	if updatesFromDisk(b, m, opts) {
		// An update reboots into its trial, and a failed trial reboots
		// back: the machine must live through reboots, and a watchdog
		// catches a hang (i6300esb: the kernels have its driver).
		args = append(args, "-device", "i6300esb")
	} else {
		args = append(args, "-no-reboot")
	}
	args = append(args, serialArgs(b)...)
	args = append(args, "-monitor", "none")
	if opts.boot != nil {
		return append(args, opts.boot...)
	}
	return append(args, directArgs(b, m, dir, "")...)
}

// updatesFromDisk reports whether the guest boots its disk (firmware and
// GRUB) with updates on: then it reboots instead of QEMU exiting.
func updatesFromDisk(b board.Board, m *manifest.Manifest, opts Options) bool {
	disk := opts.Boot == board.BootBIOS || opts.Boot == board.BootUEFI
	pci := b.QEMU.Machine == "q35" || b.QEMU.Machine == "virt"
	return m.UpdatePort > 0 && disk && pci
}

// start runs QEMU with its console on w. QEMU gets SIGKILL if this process
// dies (Pdeathsig), so a killed mkimage or test never leaves a guest behind.
func (mc *Machine) start(w io.Writer) error {
	if w == nil {
		w = io.Discard
	}
	mc.Cmd.Stdout = w
	var stderr strings.Builder
	mc.Cmd.Stderr = io.MultiWriter(&stderr, w)
	mc.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread() // Pdeathsig follows the thread that forked
	err := mc.Cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("starting %s: %w", mc.Cmd.Path, err)
	}
	go func() {
		mc.waitErr = mc.Cmd.Wait()
		if mc.waitErr != nil && stderr.Len() > 0 {
			mc.waitErr = fmt.Errorf("%w: %s", mc.waitErr, strings.TrimSpace(stderr.String()))
		}
		os.RemoveAll(mc.tmp)
		close(mc.done)
	}()
	return nil
}

// Done is closed when QEMU has exited.
func (mc *Machine) Done() <-chan struct{} { return mc.done }

// Wait waits for QEMU to exit and returns its exit error (nil for status 0).
func (mc *Machine) Wait() error {
	<-mc.done
	return mc.waitErr
}

// URL is the forwarded address of the guest's front end.
func (mc *Machine) URL() string { return fmt.Sprintf("http://127.0.0.1:%d/", mc.HostPort) }

// Powerdown presses the ACPI power button, like `system_powerdown`.
func (mc *Machine) Powerdown() error { return qmp(mc.qmpPath, "system_powerdown") }

// Stop powers the guest off and waits up to grace for QEMU to exit, then
// kills it. It returns QEMU's exit error.
func (mc *Machine) Stop(grace time.Duration) error {
	mc.stopOnce.Do(func() {
		if err := mc.Powerdown(); err == nil {
			select {
			case <-mc.done:
				return
			case <-time.After(grace):
			}
		}
		mc.Kill()
	})
	return mc.Wait()
}

// Kill ends QEMU at once.
func (mc *Machine) Kill() {
	if mc.Cmd.Process != nil {
		_ = mc.Cmd.Process.Kill()
	}
}

// FreePort returns a port on 127.0.0.1 nobody listens on right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) error {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("port %d on 127.0.0.1 is in use: pick another or leave it out to get a free one", port)
	}
	return ln.Close()
}

// lines calls fn for every line read from r until EOF.
func lines(r io.Reader, fn func(string)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fn(sc.Text())
	}
}
