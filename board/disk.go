package board

// Disk layouts: how a board's disk image is partitioned and booted. Every
// layout ends with an ext4 data partition, mounted at /data and grown to
// fill the disk on first boot.
const (
	// LayoutPC is GPT with a BIOS boot partition holding GRUB's core.img
	// (boot code in the MBR, for SeaBIOS and other legacy BIOSes), an EFI
	// system partition with GRUB as EFI/BOOT/BOOTX64.EFI, one grub.cfg and
	// GRUB's environment block (the A/B state), then the system slots a
	// and b (FAT: vmlinuz, initrd.zst; with the small kernel vmlinuz and
	// the squashfs root after the FAT) and data: one image boots under
	// both firmwares with one trial-boot mechanism, each slot stored once.
	LayoutPC = "gpt-bios-uefi"
	// LayoutUEFI is LayoutPC without the BIOS boot partition: GRUB as
	// EFI/BOOT/BOOT<ARCH>.EFI.
	LayoutUEFI = "gpt-uefi"
	// LayoutRPi is MBR with a FAT32 boot partition holding the Raspberry
	// Pi firmware (none on a Pi 5, whose firmware is in its EEPROM),
	// config.txt, and under os_prefix a/ cmdline.txt, device trees,
	// overlays, kernel and initramfs. With Disk.TryBoot (Pi 4 and 5) the
	// card has A/B system slots instead: see TryBoot.
	LayoutRPi = "mbr-rpi"
)

// Disk describes a board's disk image.
type Disk struct {
	// Layout is one of the Layout constants; "" means no disk image.
	Layout string
	// BootMiB is the boot partition's least size, one of disk.FATSizes
	// (FAT32 sizes go-diskfs formats correctly). On a Raspberry Pi it
	// holds the system, and a bigger system gets the next size that holds
	// it twice; with slots it is the ESP, which holds only GRUB.
	BootMiB int
	// SlotMiB is a system slot's least size (A/B layouts), one of
	// disk.FATSizes; a bigger system gets the next size that holds it.
	SlotMiB int
	// DataMiB is the data partition's size in the image; it grows to
	// fill the real disk on first boot.
	DataMiB int
	// EFIArch is the UEFI architecture name: "x64" or "aa64" (GRUB's EFI
	// target and BOOT<ARCH>.EFI).
	EFIArch string
	// Firmware lists files copied from the github.com/gokrazy/firmware
	// module to the boot partition (Raspberry Pi before the 5; a Pi 5
	// boots from its EEPROM and needs none).
	Firmware []string
	// DTBs lists device trees copied from the kernel module into the
	// slot's directory; the firmware picks one by board revision.
	DTBs []string
	// Overlays lists device tree overlays copied from the kernel
	// module's overlays/ into the slot's overlays/, with the README that
	// makes the firmware read them there rather than from /overlays/.
	Overlays []string
	// ConfigTxt holds board-specific config.txt lines (Raspberry Pi).
	ConfigTxt []string
	// TryBoot marks a Raspberry Pi whose EEPROM bootloader (Pi 4, Pi 5)
	// reads autoboot.txt and boots A/B partitions with its one-shot
	// tryboot flag: LayoutRPi then is partition 1 (FAT, BootMiB) holding
	// only autoboot.txt, slots a and b (2 and 3: each a whole boot
	// partition, SlotMiB at least) and data. The firmware of earlier
	// Pis has no autoboot.txt: their card is one boot partition.
	TryBoot bool
}

// Boot modes of `mkimage boot`.
const (
	BootDirect = "direct" // -kernel/-initrd, no firmware
	BootBIOS   = "bios"   // the machine's legacy BIOS (SeaBIOS) boots the disk
	BootUEFI   = "uefi"   // UEFI firmware in pflash boots the disk
)

// QEMUBoot says which boot modes QEMU can use for a board and how.
type QEMUBoot struct {
	// Modes lists the boot modes, the default first.
	Modes []string
	// UEFICode and UEFIVars are the firmware and its variable store
	// template (copied per boot), e.g. Debian's ovmf or qemu-efi-aarch64.
	UEFICode, UEFIVars string
	// UEFIPackage is the Debian package providing them.
	UEFIPackage string
	// UEFIMemory is the least memory (MiB) a UEFI boot needs, when more
	// than the board's default: GRUB loads the whole kernel and the
	// kernel's EFI stub then relocates it.
	UEFIMemory int
	// DiskInterface is the -drive if= value for the disk image
	// ("virtio", "sd").
	DiskInterface string
	// DTB is a device tree from the kernel module given with -dtb.
	DTB string
	// Serial are the serial arguments; the default is -serial stdio.
	Serial []string
	// Package is the Debian package providing the QEMU binary.
	Package string
}
