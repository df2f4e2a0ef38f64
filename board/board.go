// Package board is the registry of named targets. A board is data: what
// differs between boards is a field, chosen from a small set of strategies.
package board

import (
	"fmt"
	"sort"
	"strings"
)

// KernelSource says where a board's default kernel comes from.
type KernelSource struct {
	// Module is a Go module holding a prebuilt kernel, fetched by the go
	// command into the module cache and pinned by this tool's go.sum.
	Module string
	// File is the kernel's path inside the module.
	File string
	// Modules is the kernel's module tree inside the Go module ("" when
	// the drivers are built in).
	Modules string
}

// Board describes one target.
type Board struct {
	Name        string
	Description string
	GOARCH      string
	// Console is the kernel console device (console=...).
	Console string
	// Cmdline is the board's base kernel command line (without console=).
	Cmdline string
	Kernel  KernelSource
	// Load lists kernel modules init loads at boot, in order.
	Load []string
	// LinkTimeout is how long init waits for the network interface and
	// its carrier unless the config says otherwise ("" = 5s). Boards whose
	// NIC is on USB (a Raspberry Pi's) need longer.
	LinkTimeout string
	QEMU        QEMU
	// Disk is the board's disk image layout.
	Disk Disk
	// Proven says what this board's image has been shown to do, by which
	// test in qemu-tests: "QEMU boot (...)" names the boot modes a test
	// boots it in, "byte-level image check" means a test reads the built
	// disk image (partitions, boot files, config.txt) without booting it,
	// and "untested" means no test builds it. Nothing here claims real
	// hardware.
	Proven string
}

// QEMU says how to run the board under QEMU.
type QEMU struct {
	Binary  string
	Machine string
	// CPU is used under TCG; under KVM the host CPU is used.
	CPU    string
	Memory int // MiB
	SMP    int
	// NIC is the network device model wired to user networking.
	NIC string
	// Args are extra arguments.
	Args []string
	// Boot says how disk images and firmwares are booted.
	Boot QEMUBoot
}

var boards = []Board{
	{
		Name:        "qemu-x86_64",
		Description: "x86_64 virtual machine or VPS (QEMU q35, virtio, serial console): direct kernel boot, or a disk image for UEFI and legacy BIOS",
		GOARCH:      "amd64",
		Console:     "ttyS0",
		Cmdline:     "panic=-1 oops=panic quiet loglevel=4",
		Kernel: KernelSource{
			Module: "github.com/gokrazy/kernel.amd64",
			File:   "vmlinuz",
		},
		QEMU: QEMU{
			Binary:  "qemu-system-x86_64",
			Machine: "q35",
			CPU:     "max",
			Memory:  256,
			SMP:     1,
			NIC:     "virtio-net-pci",
			Boot: QEMUBoot{
				Modes:    []string{BootDirect, BootBIOS, BootUEFI},
				UEFICode: "/usr/share/OVMF/OVMF_CODE_4M.fd", UEFIVars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
				UEFIPackage: "ovmf", DiskInterface: "virtio", Package: "qemu-system-x86",
			},
		},
		// The system (16 MiB kernel, 8 MiB initramfs) fits an 80 MiB slot
		// with room to grow.
		Disk:   Disk{Layout: LayoutPC, BootMiB: 40, SlotMiB: 80, DataMiB: 32, EFIArch: "x64"},
		Proven: "QEMU boot (direct, BIOS, UEFI)",
	},
}

// Lookup returns the board called name.
func Lookup(name string) (Board, error) {
	for _, b := range boards {
		if b.Name == name {
			return b, nil
		}
	}
	return Board{}, fmt.Errorf("unknown board %q (known: %s)", name, strings.Join(Names(), ", "))
}

// All returns every board, sorted by name.
func All() []Board {
	out := append([]Board(nil), boards...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the board names, sorted.
func Names() []string {
	var n []string
	for _, b := range All() {
		n = append(n, b.Name)
	}
	return n
}
