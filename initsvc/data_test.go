package initsvc

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

func growFixture(t *testing.T, size, grown int64, write func(*os.File) error) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(grown); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGrowGPT(t *testing.T) {
	const size, grown = 64 << 20, 200 << 20
	tbl := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true, Partitions: []*gpt.Partition{
		{Index: 1, Start: 2048, End: 4095, Type: gpt.BIOSBoot, Name: "bios"},
		{Index: 2, Start: 4096, End: 2*20480 - 1, Type: gpt.EFISystemPartition, Name: "boot"},
		{Index: 3, Start: 2 * 20480, End: 2*20480 + 2*10240 - 1, Type: gpt.LinuxFilesystem, Name: "data"},
	}}
	f := growFixture(t, size, grown, func(f *os.File) error { return tbl.Write(f, size) })
	mbrSec := make([]byte, 512)
	if _, err := f.ReadAt(mbrSec, 0); err != nil {
		t.Fatal(err)
	}
	p := &partition{number: 3, start: 2 * 20480 * 512, size: 10 << 20}
	end, err := growGPT(f, mbrSec, p, 512, grown)
	if err != nil {
		t.Fatal(err)
	}
	if end != grown-1<<20 {
		t.Errorf("new end %d, want %d (1 MiB below the disk's end)", end, grown-1<<20)
	}
	got, err := gpt.Read(file.New(f, true), 512, 512)
	if err != nil {
		t.Fatalf("reading the grown GPT: %v", err)
	}
	if got.RecoveredFromBackup {
		t.Error("the primary GPT was invalid")
	}
	last := got.Partitions[2]
	if last.Name != "data" || int64(last.End+1)*512 != end || got.Partitions[1].End != 2*20480-1 {
		t.Errorf("partitions after growing: %+v", got.Partitions)
	}
	// Growing again changes nothing.
	if _, err := f.ReadAt(mbrSec, 0); err != nil {
		t.Fatal(err)
	}
	p.size = end - p.start
	if end2, err := growGPT(f, mbrSec, p, 512, grown); err != nil || end2 != end {
		t.Errorf("second grow: %d, %v", end2, err)
	}
}

func TestGrowMBR(t *testing.T) {
	const size, grown = 64 << 20, 300 << 20
	tbl := &mbr.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, Partitions: []*mbr.Partition{
		{Index: 1, Type: mbr.Fat32LBA, Start: 2048, Size: 40960},
		{Index: 2, Type: mbr.Linux, Start: 43008, Size: 20480},
	}}
	f := growFixture(t, size, grown, func(f *os.File) error { return tbl.Write(f, size) })
	mbrSec := make([]byte, 512)
	if _, err := f.ReadAt(mbrSec, 0); err != nil {
		t.Fatal(err)
	}
	end, err := growMBR(f, mbrSec, &partition{number: 2, start: 43008 * 512, size: 20480 * 512}, grown)
	if err != nil || end != grown {
		t.Fatalf("grow: %d, %v", end, err)
	}
	got, err := mbr.Read(file.New(f, true), 512, 512)
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Partitions[1]; p.Start != 43008 || int64(p.Start+p.Size)*512 != grown || got.Partitions[0].Size != 40960 {
		t.Errorf("partitions after growing: %+v %+v", got.Partitions[0], got.Partitions[1])
	}
}

// FuzzGrowGPT feeds damaged GPT headers and entry arrays to the code PID 1
// runs at boot: it may refuse them, but must never panic (a panic in init
// powers the appliance off).
func FuzzGrowGPT(f *testing.F) {
	const size = 4 << 20
	tbl := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true, Partitions: []*gpt.Partition{
		{Index: 1, Start: 2048, End: 4095, Type: gpt.LinuxFilesystem, Name: "data"},
	}}
	dir := f.TempDir()
	seed, err := os.Create(filepath.Join(dir, "seed"))
	if err != nil {
		f.Fatal(err)
	}
	seed.Truncate(size)
	if err := tbl.Write(seed, size); err != nil {
		f.Fatal(err)
	}
	hdr := make([]byte, 1024)
	seed.ReadAt(hdr, 512)
	seed.Close()
	f.Add(hdr, uint8(1), uint16(0))
	// The disk lives in memory: a file per input on a shared machine's
	// disk once stalled the fuzzer past its deadline.
	d := make(memDisk, 2*size)
	f.Fuzz(func(t *testing.T, head []byte, number uint8, flip uint16) {
		clear(d)
		mbrSec := make([]byte, 512)
		mbrSec[446+4], mbrSec[510], mbrSec[511] = 0xee, 0x55, 0xaa
		d.WriteAt(mbrSec, 0)
		if len(head) > 1024 {
			head = head[:1024]
		}
		d.WriteAt(head, 512)
		d.WriteAt([]byte{byte(flip)}, 1024+int64(flip%2048))
		_, _ = growGPT(d, mbrSec, &partition{number: int(number), start: 2048 * 512, size: 1 << 20}, 512, 2*size)
	})
}

// memDisk is a disk image in memory, of a fixed size.
type memDisk []byte

func (m memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m memDisk) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m)) {
		return 0, errors.New("write beyond the end of the disk")
	}
	return copy(m[off:], p), nil
}
