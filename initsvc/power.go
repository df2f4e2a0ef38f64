package initsvc

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchPowerButton reads every input device named "Power Button" (QEMU's
// ACPI button, `system_powerdown`) and reports a KEY_POWER press on stop.
func watchPowerButton(con console, stop chan<- string) {
	names, _ := filepath.Glob("/sys/class/input/event*/device/name")
	found := 0
	for _, n := range names {
		data, err := os.ReadFile(n)
		// ACPI's button (x86, arm64 under UEFI) or the device tree's
		// gpio-keys (arm64 virt booted directly: its key is KEY_POWER).
		if err != nil || !strings.Contains(string(data), "Power Button") && strings.TrimSpace(string(data)) != "gpio-keys" {
			continue
		}
		ev := filepath.Base(filepath.Dir(filepath.Dir(n)))
		f, err := os.Open("/dev/input/" + ev)
		if err != nil {
			con.step("power button", err, "")
			continue
		}
		found++
		go readPowerEvents(f, stop)
	}
	if found > 0 {
		con.step("power button", nil, "")
	}
}

// readPowerEvents parses struct input_event (24 bytes on 64-bit): time,
// type u16, code u16, value s32. EV_KEY=1, KEY_POWER=116, press=1.
func readPowerEvents(f *os.File, stop chan<- string) {
	defer f.Close()
	buf := make([]byte, 24)
	for {
		if _, err := readFull(f, buf); err != nil {
			return
		}
		typ := binary.LittleEndian.Uint16(buf[16:])
		code := binary.LittleEndian.Uint16(buf[18:])
		val := int32(binary.LittleEndian.Uint32(buf[20:]))
		if typ == 1 && code == 116 && val == 1 {
			stop <- "power button"
			return
		}
	}
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// reboot syncs, unmounts and restarts the machine. It never returns.
// rebootArg (nil: none) gives reboot(2)'s argument for the next boot (""
// a plain restart): after a trial was armed, a Pi's firmware needs "0
// tryboot". It is read before the boot partition is unmounted.
func reboot(con console, rebootArg func() (string, error)) {
	var arg string
	var err error
	if rebootArg != nil {
		arg, err = rebootArg()
	}
	if err != nil {
		con.step("reboot", err, "a plain restart")
		arg = ""
	}
	unix.Sync()
	unmountAll()
	unix.Sync()
	con.step("reboot", nil, arg)
	for {
		err := restart(arg)
		con.step("reboot", err, arg)
		arg = "" // a plain restart boots the committed slot
		time.Sleep(time.Second)
	}
}

// restart is reboot(2) RESTART, or RESTART2 with arg (which
// unix.Reboot cannot pass): the Pi firmware driver hands it on.
func restart(arg string) error {
	if arg == "" {
		return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	}
	p, err := unix.BytePtrFromString(arg)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall6(unix.SYS_REBOOT, unix.LINUX_REBOOT_MAGIC1, unix.LINUX_REBOOT_MAGIC2,
		unix.LINUX_REBOOT_CMD_RESTART2, uintptr(unsafe.Pointer(p)), 0, 0)
	if errno != 0 {
		return fmt.Errorf("restarting with %q: %w", arg, errno)
	}
	return nil
}

// powerOff syncs, unmounts and powers the machine off. It never returns.
func powerOff(con console) {
	unix.Sync()
	unmountAll()
	unix.Sync()
	con.step("power off", nil, "")
	for {
		err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		con.step("power off", err, "")
		time.Sleep(time.Second)
	}
}
