package board

// Arm boards: a QEMU virt machine (and arm64 VPS/servers with UEFI) and
// Raspberry Pis. Their values are added to the registry like any other.
func init() {
	boards = append(boards, qemuAarch64, rpi("rpi3", "Raspberry Pi 3 (B, B+)", "bcm2710-rpi-3-b.dtb",
		[]string{"bcm2710-rpi-3-b.dtb", "bcm2710-rpi-3-b-plus.dtb"}, pi3Firmware, true),
		rpi("rpizero2w", "Raspberry Pi Zero 2 W", "bcm2710-rpi-zero-2-w.dtb",
			[]string{"bcm2710-rpi-zero-2-w.dtb"}, pi3Firmware, false),
		rpi("rpi4", "Raspberry Pi 4 (B, 400)", "bcm2711-rpi-4-b.dtb",
			[]string{"bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb"}, []string{"start4.elf", "fixup4.dat"}, false))
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
			// With 256 MiB AAVMF fails "Failed to relocate kernel: Out
			// of Resources" for the 57 MiB arm64 Image.
			UEFIMemory: 512,
		},
	},
	// The arm64 Image is 57 MiB uncompressed: two slots need 200 MiB.
	Disk: Disk{Layout: LayoutUEFI, BootMiB: 200, DataMiB: 32, EFIArch: "aa64"},
}

var pi3Firmware = []string{"bootcode.bin", "start.elf", "fixup.dat"}

// rpi returns a Raspberry Pi board. The console is the mini UART (ttyS0):
// with Bluetooth on, the PL011 belongs to it. qemu says whether QEMU's
// raspi3b machine can run it.
func rpi(name, desc, qemuDTB string, dtbs, firmware []string, qemu bool) Board {
	b := Board{
		Name:        name,
		Description: desc + ": SD card image (MBR, FAT32 boot with firmware, ext4 data)",
		GOARCH:      "arm64",
		Console:     "ttyS0,115200",
		Cmdline:     "panic=10 oops=panic quiet loglevel=4",
		Kernel:      KernelSource{Module: "github.com/gokrazy/kernel.rpi", File: "vmlinuz"},
		// The Ethernet of a Pi 3 and earlier (and QEMU's usb-net) is a
		// USB device that enumerates seconds after init starts.
		LinkTimeout: "30s",
		Disk: Disk{
			Layout: LayoutRPi, BootMiB: 200, DataMiB: 32,
			Firmware: firmware, DTBs: dtbs,
			ConfigTxt: []string{"arm_64bit=1", "enable_uart=1"},
		},
	}
	if qemu {
		// QEMU emulates up to a Pi 3. Multi-threaded TCG is much slower
		// on this machine (thread=single is chosen for SMP > 1).
		b.QEMU = QEMU{
			Binary: "qemu-system-aarch64", Machine: "raspi3b", CPU: "cortex-a53",
			Memory: 1024, SMP: 4, NIC: "usb-net",
			Boot: QEMUBoot{
				Modes: []string{BootDirect}, DiskInterface: "sd", DTB: qemuDTB,
				Serial: []string{"-serial", "null", "-serial", "stdio"}, Package: "qemu-system-arm",
			},
		}
	}
	return b
}
