package board

import "strings"

// Arm boards: a QEMU virt machine (and arm64 VPS/servers with UEFI) and
// Raspberry Pis. Their values are added to the registry like any other.
func init() {
	boards = append(boards, qemuAarch64,
		rpi(pi{
			name: "rpi3", desc: "Raspberry Pi 3 (B, B+)", qemuDTB: "bcm2710-rpi-3-b.dtb",
			dtbs:     []string{"bcm2710-rpi-3-b.dtb", "bcm2710-rpi-3-b-plus.dtb"},
			firmware: pi3Firmware,
			// QEMU's raspi3b loads kernel, device tree and initramfs
			// itself: the SD card image is attached and its data
			// partition used, but the Pi firmware and config.txt are not.
			proven: "QEMU boot (raspi3b, direct kernel + SD card image)",
		}),
		rpi(pi{
			name: "rpizero2w", desc: "Raspberry Pi Zero 2 W",
			dtbs: []string{"bcm2710-rpi-zero-2-w.dtb"}, firmware: pi3Firmware,
			proven: "byte-level image check",
		}),
		tryBoot(rpi(pi{
			name: "rpi4", desc: "Raspberry Pi 4 (B, 400)",
			dtbs:     []string{"bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb"},
			firmware: []string{"start4.elf", "fixup4.dat"},
			proven:   "byte-level image check (A/B slots, update bundle)",
		})),
		rpi5)
}

var qemuAarch64 = Board{
	Name:        "qemu-aarch64",
	Description: "aarch64 virtual machine (QEMU virt, virtio, PL011 console): direct kernel boot, or a UEFI disk image",
	GOARCH:      "arm64",
	Console:     "ttyAMA0",
	Cmdline:     "panic=-1 oops=panic quiet loglevel=4",
	Kernel:      KernelSource{Module: "github.com/gokrazy/kernel.arm64", File: "vmlinuz"},
	QEMU: QEMU{
		Binary:  "qemu-system-aarch64",
		Machine: "virt",
		// Under TCG cortex-a53 is about twice as fast as max (pointer
		// authentication emulation).
		CPU:    "cortex-a53",
		Memory: 256,
		SMP:    1,
		NIC:    "virtio-net-pci",
		Boot: QEMUBoot{
			Modes:    []string{BootDirect, BootUEFI},
			UEFICode: "/usr/share/AAVMF/AAVMF_CODE.fd", UEFIVars: "/usr/share/AAVMF/AAVMF_VARS.fd",
			UEFIPackage: "qemu-efi-aarch64", DiskInterface: "virtio", Package: "qemu-system-arm",
			// With 256 MiB the 57 MiB arm64 Image fails to relocate
			// ("Out of Resources").
			UEFIMemory: 512,
		},
	},
	// The arm64 Image is 57 MiB uncompressed: a slot needs 100 MiB.
	Disk:   Disk{Layout: LayoutUEFI, BootMiB: 40, SlotMiB: 100, DataMiB: 32, EFIArch: "aa64"},
	Proven: "QEMU boot (direct, UEFI)",
}

var pi3Firmware = []string{"bootcode.bin", "start.elf", "fixup.dat"}

// rpi5 is the Raspberry Pi 5 and the boards built on its SoC (BCM2712):
// the 500 keyboard and the Compute Module 5 (and CM5 Lite), served by the
// same kernel (gokrazy's kernel.rpi, a 4 KiB page "kernel8" build, which
// the Pi 5 firmware boots when there is no kernel_2712.img) and files;
// the firmware picks the device tree by board revision. The Pi 5 boots
// from its EEPROM bootloader: no bootcode.bin, start*.elf or fixup*.dat.
// Its firmware refuses a boot partition without a BCM2712 device tree
// (os_check, looked up under os_prefix), and on D0-stepping SoCs (e.g.
// the 2 and 16 GB Pi 5 and the CM5) it applies the bcm2712d0 overlay to
// the device tree, without which the kernel dies early. The console is
// the SoC's own debug UART on the 3-pin connector (ttyAMA10, the device
// tree's stdout-path), which needs no config.txt line; the GPIO 14/15
// UART sits behind RP1 and is disabled in the device tree.
var rpi5 = func() Board {
	b := rpi(pi{
		name: "rpi5", desc: "Raspberry Pi 5 (B, 500, CM5)",
		dtbs: []string{"bcm2712-rpi-5-b.dtb", "bcm2712-rpi-500.dtb",
			"bcm2712-rpi-cm5-cm4io.dtb", "bcm2712-rpi-cm5-cm5io.dtb",
			"bcm2712-rpi-cm5l-cm4io.dtb", "bcm2712-rpi-cm5l-cm5io.dtb"},
		proven: "byte-level image check (A/B slots, update bundle)",
	})
	b.Console = "ttyAMA10,115200"
	b.Disk.ConfigTxt = nil
	b.Disk.Overlays = []string{"bcm2712d0.dtbo"}
	return tryBoot(b)
}()

// tryBoot gives a Pi 4 or 5 card A/B system slots (Disk.TryBoot): the
// smallest FAT partition for autoboot.txt, and slots of 100 MiB at least
// (the arm64 kernel is 44 MiB uncompressed).
func tryBoot(b Board) Board {
	b.Disk.TryBoot = true
	b.Disk.BootMiB, b.Disk.SlotMiB = 40, 100
	b.Description = strings.Replace(b.Description, "SD card image (MBR, FAT32 boot", "SD card image (MBR, autoboot.txt, A/B FAT32 boot slots", 1)
	return b
}

// pi describes one Raspberry Pi board for rpi.
type pi struct {
	name, desc string
	// qemuDTB is the device tree QEMU's raspi3b boots it with ("": QEMU
	// cannot run it).
	qemuDTB        string
	dtbs, firmware []string
	proven         string
}

// rpi returns a Raspberry Pi board. The console is the mini UART (ttyS0):
// with Bluetooth on, the PL011 belongs to it.
func rpi(p pi) Board {
	image := "SD card image (MBR, FAT32 boot with firmware, ext4 data)"
	if len(p.firmware) == 0 {
		image = "SD card image (MBR, FAT32 boot, ext4 data; the boot firmware is in the board's EEPROM)"
	}
	b := Board{
		Name:        p.name,
		Description: p.desc + ": " + image,
		GOARCH:      "arm64",
		Console:     "ttyS0,115200",
		Cmdline:     "panic=10 oops=panic quiet loglevel=4",
		Kernel:      KernelSource{Module: "github.com/gokrazy/kernel.rpi", File: "vmlinuz"},
		// The Ethernet of a Pi 3 and earlier (and QEMU's usb-net) is a
		// USB device that enumerates seconds after init starts; a Pi 5's
		// is behind PCIe and RP1.
		LinkTimeout: "30s",
		Disk: Disk{
			Layout: LayoutRPi, BootMiB: 200, DataMiB: 32,
			Firmware: p.firmware, DTBs: p.dtbs,
			ConfigTxt: []string{"arm_64bit=1", "enable_uart=1"},
		},
		Proven: p.proven,
	}
	if p.qemuDTB != "" {
		// QEMU emulates up to a Pi 3. Multi-threaded TCG is much slower
		// on this machine (thread=single is chosen for SMP > 1).
		b.QEMU = QEMU{
			Binary: "qemu-system-aarch64", Machine: "raspi3b", CPU: "cortex-a53",
			Memory: 1024, SMP: 4, NIC: "usb-net",
			Boot: QEMUBoot{
				Modes: []string{BootDirect}, DiskInterface: "sd", DTB: p.qemuDTB,
				Serial: []string{"-serial", "null", "-serial", "stdio"}, Package: "qemu-system-arm",
			},
		}
	}
	return b
}
