package initsvc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
)

// dataParam on the kernel command line names the ext4 label of the data
// partition; disk boots carry it (the disk package writes it into GRUB's
// config, the UKI and cmdline.txt).
const dataParam = spec.DataParam + "="

// setupData mounts the data partition at /data: it waits for the partition
// labelled as the command line says, grows it (partition table, then the
// mounted ext4 filesystem, online) to fill the disk, and makes the app's
// directory. It never formats anything: a partition that does not mount
// leaves /data on a tmpfs and says so. Without the parameter (a direct
// kernel boot) /data is a tmpfs. Each app gets its own directory there.
func setupData(con console, pools []spec.Pool) (disk string) {
	label := cmdlineValue(dataParam)
	disk, err := mountData(con, label)
	if err != nil {
		con.step("data", err, "")
		err = mountTmpfsData()
		con.step("data", err, "tmpfs at "+spec.DataDir+" (nothing written there survives a reboot)")
	}
	if len(pools) > 0 {
		con.step("data dirs", appDataDirs(pools, spec.LegacyAppDataDir), spec.AppDataRoot)
	}
	con.step("spool dir", makeSpoolDir(spec.FrontSpoolDir, spec.FrontUID), spec.FrontSpoolDir)
	con.step("acme dir", makeACMEDir(spec.ACMEStorageDir, spec.FrontUID), spec.ACMEStorageDir)
	return disk
}

// mountData mounts the data partition and returns the disk that holds it.
func mountData(con console, label string) (string, error) {
	if label == "" {
		err := mountTmpfsData()
		if err == nil {
			con.step("data", nil, "tmpfs at "+spec.DataDir+" (booted without the disk image)")
		}
		return "", err
	}
	part, err := waitForLabel(label, 30*time.Second)
	if err != nil {
		return "", err
	}
	grown, err := growPartition(&part)
	if err != nil {
		con.step("data grow", err, "")
	} else if grown > 0 {
		con.step("data grow", nil, fmt.Sprintf("%s: partition %d MiB to %d MiB", part.name, grown>>20, part.size>>20))
	}
	dev := "/dev/" + part.name
	if err := os.MkdirAll(spec.DataDir, 0o755); err != nil {
		return part.disk, err
	}
	if err := unix.Mount(dev, spec.DataDir, "ext4", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOATIME, ""); err != nil {
		hint := ""
		switch err {
		case unix.ENOENT: // ext4 asks the crypto API for crc32c; no modprobe here
			hint = " (a kernel with ext4 as a module needs crc32c too: add \"crc32c_generic\" to [kernel] load)"
		case unix.ENODEV:
			hint = " (the kernel has no ext4: add \"ext4\" to [kernel] load)"
		}
		return part.disk, fmt.Errorf("mounting %s (%s) on %s: %w%s", dev, label, spec.DataDir, err, hint)
	}
	// Unmounted at power-off, before the kernel filesystems.
	mounts = append(mounts, mount{dev, spec.DataDir, "ext4", 0, ""})
	fsSize, err := growExt4(part)
	if err != nil {
		con.step("data grow", err, "")
	}
	con.step("data", nil, fmt.Sprintf("%s (%s) on %s, %d MiB", dev, label, spec.DataDir, fsSize>>20))
	return part.disk, nil
}

func mountTmpfsData() error {
	if err := os.MkdirAll(spec.DataDir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("tmpfs", spec.DataDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=25%,nr_inodes=16384")
	if err == nil {
		mounts = append(mounts, mount{"tmpfs", spec.DataDir, "tmpfs", 0, ""})
	}
	return err
}

func cmdlineValue(prefix string) string {
	data, _ := os.ReadFile("/proc/cmdline")
	for _, f := range strings.Fields(string(data)) {
		if v, ok := strings.CutPrefix(f, prefix); ok {
			return v
		}
	}
	return ""
}

// partition is a block device partition holding the data filesystem.
type partition struct {
	name   string // e.g. vda3
	disk   string // e.g. vda
	number int    // 1-based
	start  int64  // bytes
	size   int64  // bytes
	sb     []byte // the ext4 superblock
}

// waitForLabel polls the partitions until one holds an ext4 filesystem
// with the given label (the disk's driver may still be probing).
func waitForLabel(label string, timeout time.Duration) (partition, error) {
	deadline := time.Now().Add(timeout)
	for {
		if p, ok := findLabel(label); ok {
			return p, nil
		}
		if time.Now().After(deadline) {
			return partition{}, fmt.Errorf("no partition with the ext4 label %q appeared within %v", label, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func findLabel(label string) (partition, bool) {
	parts, _ := filepath.Glob("/sys/class/block/*/partition")
	for _, pf := range parts {
		dir := filepath.Dir(pf)
		name := filepath.Base(dir)
		sb, err := readSuperblock("/dev/" + name)
		if err != nil || string(bytes.TrimRight(sb[0x78:0x88], "\x00")) != label {
			continue
		}
		p := partition{name: name, sb: sb}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			continue
		}
		p.disk = filepath.Base(filepath.Dir(real))
		p.number = readInt(pf)
		p.start = int64(readInt(filepath.Join(dir, "start"))) * 512
		p.size = int64(readInt(filepath.Join(dir, "size"))) * 512
		if p.number > 0 && p.size > 0 {
			return p, true
		}
	}
	return partition{}, false
}

func readInt(path string) int {
	data, _ := os.ReadFile(path)
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

func readSuperblock(dev string) ([]byte, error) {
	f, err := os.Open(dev)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, 1024); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xef53 {
		return nil, errors.New("no ext4 superblock")
	}
	return sb, nil
}

const mib = 1 << 20

// growPartition extends the data partition, which must be the last one, to
// the end of its disk in the partition table (GPT: moving the backup
// header to the disk's new end; MBR: the entry's size), then tells the
// kernel. It returns the old size when it grew, else 0.
func growPartition(p *partition) (int64, error) {
	diskBytes := int64(readInt("/sys/class/block/"+p.disk+"/size")) * 512
	ss := int64(readInt("/sys/class/block/" + p.disk + "/queue/logical_block_size"))
	if ss == 0 {
		ss = 512
	}
	// Already (nearly) filling the disk: GPT's backup needs 33 sectors,
	// alignment up to 1 MiB.
	if p.start+p.size+2*mib > diskBytes {
		return 0, nil
	}
	f, err := os.OpenFile("/dev/"+p.disk, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	mbr := make([]byte, ss)
	if _, err := f.ReadAt(mbr, 0); err != nil {
		return 0, err
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return 0, fmt.Errorf("%s has no partition table", p.disk)
	}
	var end int64 // new end in bytes (exclusive)
	if mbr[446+4] == 0xee {
		end, err = growGPT(f, mbr, p, ss, diskBytes)
	} else {
		end, err = growMBR(f, mbr, p, diskBytes)
	}
	if err != nil || end <= p.start+p.size {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	old := p.size
	if err := resizeKernelPartition(f, p, end-p.start); err != nil {
		return 0, fmt.Errorf("the table says %d MiB but the kernel keeps %d MiB until reboot: %w", (end-p.start)>>20, old>>20, err)
	}
	p.size = end - p.start
	return old, nil
}

func growMBR(f *os.File, mbr []byte, p *partition, diskBytes int64) (int64, error) {
	if p.number < 1 || p.number > 4 {
		return 0, fmt.Errorf("partition %d is not a primary MBR partition", p.number)
	}
	e := mbr[446+16*(p.number-1):]
	start := int64(binary.LittleEndian.Uint32(e[8:])) * 512
	if start != p.start {
		return 0, fmt.Errorf("MBR entry %d starts at %d, the kernel says %d", p.number, start, p.start)
	}
	end := min(diskBytes, start+0xffffffff*512) / mib * mib
	binary.LittleEndian.PutUint32(e[12:], uint32((end-start)/512))
	_, err := f.WriteAt(mbr[:512], 0)
	return end, err
}

// readerWriterAt is a block device or a file holding a disk image.
type readerWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

func growGPT(f readerWriterAt, mbr []byte, p *partition, ss, diskBytes int64) (int64, error) {
	hdr := make([]byte, ss)
	if _, err := f.ReadAt(hdr, ss); err != nil {
		return 0, err
	}
	if string(hdr[:8]) != "EFI PART" {
		return 0, errors.New("protective MBR but no GPT header")
	}
	hs := binary.LittleEndian.Uint32(hdr[12:])
	if hs < 92 || int64(hs) > ss || !headerCRCOK(hdr[:hs]) {
		return 0, errors.New("the primary GPT header is damaged")
	}
	entLBA := int64(binary.LittleEndian.Uint64(hdr[72:]))
	n := int64(binary.LittleEndian.Uint32(hdr[80:]))
	esz := int64(binary.LittleEndian.Uint32(hdr[84:]))
	if esz < 128 || esz > 4096 || n < 1 || n*esz > 1<<20 || entLBA < 2 || entLBA*ss > diskBytes {
		return 0, errors.New("the GPT header's entry array is implausible")
	}
	if p.number < 1 || p.number > int(n) {
		return 0, errors.New("the GPT has no entry for the data partition")
	}
	ents := make([]byte, n*esz)
	if _, err := f.ReadAt(ents, entLBA*ss); err != nil {
		return 0, err
	}
	if crc32.ChecksumIEEE(ents) != binary.LittleEndian.Uint32(hdr[88:]) {
		return 0, errors.New("the GPT entries are damaged")
	}
	sectors := diskBytes / ss
	entSectors := (n*esz + ss - 1) / ss
	lastUsable := sectors - 2 - entSectors
	e := ents[int64(p.number-1)*esz:]
	first := int64(binary.LittleEndian.Uint64(e[32:]))
	if first*ss != p.start {
		return 0, fmt.Errorf("GPT entry %d starts at sector %d, the kernel says byte %d", p.number, first, p.start)
	}
	// The data partition must be the last one.
	for i := int64(0); i < n; i++ {
		o := ents[i*esz:]
		if i != int64(p.number-1) && int64(binary.LittleEndian.Uint64(o[32:])) > first {
			return 0, fmt.Errorf("partition %d lies after the data partition", i+1)
		}
	}
	end := (lastUsable + 1) * ss / mib * mib // exclusive, 1 MiB aligned
	binary.LittleEndian.PutUint64(e[40:], uint64(end/ss-1))
	oldBackup := int64(binary.LittleEndian.Uint64(hdr[32:]))
	binary.LittleEndian.PutUint64(hdr[32:], uint64(sectors-1))
	binary.LittleEndian.PutUint64(hdr[48:], uint64(lastUsable))
	binary.LittleEndian.PutUint32(hdr[88:], crc32.ChecksumIEEE(ents))
	setHeaderCRC(hdr[:hs])
	backup := append([]byte(nil), hdr...)
	binary.LittleEndian.PutUint64(backup[24:], uint64(sectors-1))
	binary.LittleEndian.PutUint64(backup[32:], 1)
	binary.LittleEndian.PutUint64(backup[72:], uint64(sectors-1-entSectors))
	setHeaderCRC(backup[:hs])
	// Backup first: a crash in between leaves a valid primary.
	writes := []struct {
		data []byte
		off  int64
	}{
		{ents, (sectors - 1 - entSectors) * ss},
		{backup, (sectors - 1) * ss},
		{ents, entLBA * ss},
		{hdr, ss},
	}
	if oldBackup > 1 && oldBackup < sectors-1 {
		writes = append(writes, struct {
			data []byte
			off  int64
		}{make([]byte, ss), oldBackup * ss})
	}
	for _, w := range writes {
		if _, err := f.WriteAt(w.data, w.off); err != nil {
			return 0, err
		}
	}
	// The protective MBR covers the whole disk (or as much as it can).
	binary.LittleEndian.PutUint32(mbr[446+12:], uint32(min(sectors-1, 0xffffffff)))
	_, err := f.WriteAt(mbr[:512], 0)
	return end, err
}

func headerCRCOK(h []byte) bool {
	want := binary.LittleEndian.Uint32(h[16:])
	c := append([]byte(nil), h...)
	binary.LittleEndian.PutUint32(c[16:], 0)
	return crc32.ChecksumIEEE(c) == want
}

func setHeaderCRC(h []byte) {
	binary.LittleEndian.PutUint32(h[16:], 0)
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
}

// blkpg ioctl (linux/blkpg.h): resize one partition in place, which works
// while other partitions of the disk are in use, unlike BLKRRPART.
type blkpgPartition struct {
	start, length int64
	pno           int32
	devname       [64]byte
	volname       [64]byte
}

type blkpgIoctlArg struct {
	op, flags, datalen int32
	data               unsafe.Pointer
}

const (
	ioctlBLKPG           = 0x1269
	blkpgResizePartition = 3
	// EXT4_IOC_RESIZE_FS = _IOW('f', 16, __u64)
	ioctlExt4ResizeFS = 0x40086610
)

func resizeKernelPartition(f *os.File, p *partition, length int64) error {
	part := blkpgPartition{start: p.start, length: length, pno: int32(p.number)}
	arg := blkpgIoctlArg{op: blkpgResizePartition, datalen: int32(unsafe.Sizeof(part)), data: unsafe.Pointer(&part)}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlBLKPG, uintptr(unsafe.Pointer(&arg)))
	runtime.KeepAlive(&part)
	if errno != 0 {
		return errno
	}
	return nil
}

// growExt4 grows the mounted filesystem to fill its partition, online, as
// resize2fs does for a mounted filesystem, and returns its size.
func growExt4(p partition) (int64, error) {
	bs := int64(1024) << binary.LittleEndian.Uint32(p.sb[0x18:])
	blocks := int64(binary.LittleEndian.Uint32(p.sb[0x04:]))
	if binary.LittleEndian.Uint32(p.sb[0x60:])&0x80 != 0 { // 64bit
		blocks |= int64(binary.LittleEndian.Uint32(p.sb[0x150:])) << 32
	}
	want := p.size / bs
	if want <= blocks {
		return blocks * bs, nil
	}
	d, err := os.Open(spec.DataDir)
	if err != nil {
		return blocks * bs, err
	}
	defer d.Close()
	n := uint64(want)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, d.Fd(), ioctlExt4ResizeFS, uintptr(unsafe.Pointer(&n)))
	if errno != 0 {
		return blocks * bs, fmt.Errorf("growing the ext4 filesystem from %d to %d blocks: %w", blocks, want, errno)
	}
	return want * bs, nil
}
