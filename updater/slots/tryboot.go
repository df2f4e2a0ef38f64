package slots

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TryBoot keeps the A/B state of a Raspberry Pi 4 or 5, whose EEPROM
// bootloader reads autoboot.txt from the card's first FAT partition:
//
//	[all]
//	tryboot_a_b=1
//	boot_partition=2
//	[tryboot]
//	boot_partition=3
//
// A normal boot (power on, reset, watchdog, plain reboot) loads partition
// 2, the committed slot. A reboot with the one-shot tryboot flag (Linux:
// reboot(2) LINUX_REBOOT_CMD_RESTART2 "0 tryboot", which the firmware
// driver hands to the firmware) loads partition 3 once; the flag is gone
// at the next reset. tryboot_a_b=1 makes the firmware read the slot's own
// config.txt in both cases, so the slots are complete boot partitions with
// the same bytes in either place. Committing rewrites autoboot.txt with the
// two numbers swapped, in place and synced (the file keeps its length and
// its sectors, like GRUB's environment block).
//
// The firmware tells the running system what it did in the device tree:
// chosen/bootloader/partition (u32, the partition booted: which slot runs)
// and chosen/bootloader/tryboot (u32, 1 in a tryboot). The flag cannot be
// read before the reboot, so Arm also writes a marker file beside
// autoboot.txt naming the slot and the boot that armed it: a later boot
// that is no tryboot while the marker names another slot is the trial that
// failed (reset, watchdog, power cut, or a verdict that rebooted).
type TryBoot struct {
	Dir   string         // the mounted first FAT partition
	Slots map[string]int // slot name to partition number
	// DT is the firmware's chosen/bootloader node; "" is DeviceTree.
	DT string
	// Boot identifies this boot; "" reads the kernel's boot_id.
	Boot string
}

// Where the firmware and the build put things.
const (
	AutobootFile = "autoboot.txt"
	// TrialFile is the marker Arm writes: TrialSize bytes, written by the
	// build so the guest only ever rewrites it in place.
	TrialFile  = "mkimage-trial.txt"
	TrialSize  = 512
	DeviceTree = "/proc/device-tree/chosen/bootloader"
	// TryBootArg is reboot(2)'s argument for a tryboot: partition 0 (the
	// one autoboot.txt names) with the one-shot flag.
	TryBootArg = "0 tryboot"
	bootIDPath = "/proc/sys/kernel/random/boot_id"
	trialHead  = "# mkimage: the slot armed for a one-shot trial (tryboot) and the boot that armed it\n"
)

// Autoboot is autoboot.txt booting partition normal, and try once after a
// tryboot reboot.
func Autoboot(normal, try int) []byte {
	return fmt.Appendf(nil, "[all]\ntryboot_a_b=1\nboot_partition=%d\n[tryboot]\nboot_partition=%d\n", normal, try)
}

// ParseAutoboot reads the boot_partition of the [all] and [tryboot]
// sections.
func ParseAutoboot(b []byte) (normal, try int, err error) {
	section := "all"
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "boot_partition" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, 0, fmt.Errorf("autoboot.txt: %q: %w", line, err)
		}
		switch section {
		case "all":
			normal = n
		case "tryboot":
			try = n
		}
	}
	if normal == 0 || try == 0 {
		return 0, 0, fmt.Errorf("autoboot.txt names no boot_partition for [all] and [tryboot]")
	}
	return normal, try, nil
}

// TrialBlock is the marker file: slot armed by the boot with ID boot
// (both "": nothing armed), TrialSize bytes.
func TrialBlock(slot, boot string) ([]byte, error) {
	if !plain(slot) || !plain(boot) {
		return nil, fmt.Errorf("trial marker: %q %q hold characters it does not store", slot, boot)
	}
	b := []byte(trialHead + "slot=" + slot + "\nboot=" + boot + "\n")
	if len(b) > TrialSize {
		return nil, errors.New("trial marker: too long")
	}
	return append(b, bytes.Repeat([]byte{'#'}, TrialSize-len(b))...), nil
}

// marker is the armed slot and the boot that armed it ("" when none).
func (t TryBoot) marker() (slot, boot string, err error) {
	b, err := os.ReadFile(filepath.Join(t.Dir, TrialFile))
	if err != nil {
		return "", "", fmt.Errorf("reading the trial marker: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == "slot" {
			slot = v
		} else if ok && k == "boot" {
			boot = v
		}
	}
	return slot, boot, nil
}

func (t TryBoot) autoboot() (normal, try int, err error) {
	b, err := os.ReadFile(filepath.Join(t.Dir, AutobootFile))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the boot state: %w", err)
	}
	return ParseAutoboot(b)
}

// slotOf names the slot in partition n.
func (t TryBoot) slotOf(n int) (string, error) {
	for s, p := range t.Slots {
		if p == n {
			return s, nil
		}
	}
	return "", fmt.Errorf("partition %d holds no system slot (slots %v)", n, t.Slots)
}

func (t TryBoot) other(slot string) string {
	for s := range t.Slots {
		if s != slot {
			return s
		}
	}
	return ""
}

// dtU32 reads a u32 the firmware left in the device tree (big-endian).
func (t TryBoot) dtU32(name string) (uint32, error) {
	dir := t.DT
	if dir == "" {
		dir = DeviceTree
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, fmt.Errorf("reading the firmware's %s: %w", name, err)
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("the firmware's %s is %d bytes, not a u32", name, len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

// Running names the slot the firmware booted.
func (t TryBoot) Running() (string, error) {
	n, err := t.dtU32("partition")
	if err != nil {
		return "", err
	}
	return t.slotOf(int(n))
}

// Tried reports whether this boot is a tryboot (no property: not one).
func (t TryBoot) Tried() (bool, error) {
	n, err := t.dtU32("tryboot")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return n == 1, err
}

func (t TryBoot) bootID() (string, error) {
	if t.Boot != "" {
		return t.Boot, nil
	}
	b, err := os.ReadFile(bootIDPath)
	if err != nil {
		return "", fmt.Errorf("reading this boot's id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
