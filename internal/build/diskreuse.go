package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mkimage/mkimage/internal/disk"
	"github.com/mkimage/mkimage/internal/manifest"
)

// A rebuild with nothing changed takes the previous disk.img and
// slot.img over instead of writing and hashing 235 MiB again, when the
// disk's inputs (diskKey) are the same and the files are as the last
// build left them: not booted since (a boot of disk.img in place writes
// to it), same inode, size and modification time. The stamp beside them
// records both.
const diskStampFile = ".disk-stamp.json"

type diskStamp struct {
	Key   string         `json:"key"`
	Files []stampedFile  `json:"files"`
	Disk  *manifest.Disk `json:"disk"`
	Slot  *manifest.File `json:"slot,omitempty"`
}

type stampedFile struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	Ino     uint64 `json:"ino"`
}

// diskKey digests what decides the disk's bytes: the writer itself (this
// executable), the spec with the kernel and initramfs by their hashes.
func diskKey(s disk.Spec, m *manifest.Manifest) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	st, err := os.Stat(exe)
	if err != nil {
		return "", err
	}
	in := struct {
		Tool, Exe            string
		ExeSize, ExeMtime    int64
		Spec                 disk.Spec
		KernelSHA, InitrdSHA string
		Slot                 bool
	}{ToolVersion, exe, st.Size(), st.ModTime().UnixNano(), s, m.Kernel.SHA256, m.Initramfs.SHA256, s.SlotImage != ""}
	in.Spec.Kernel, in.Spec.Initramfs, in.Spec.SlotImage = "", "", "" // in the temporary directory
	data, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// stampOf records name's identity in dir.
func stampOf(dir, name string) (stampedFile, error) {
	st, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		return stampedFile{}, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return stampedFile{}, errors.New("no inode number")
	}
	return stampedFile{Name: name, Size: st.Size(), MtimeNs: st.ModTime().UnixNano(), Ino: sys.Ino}, nil
}

// writeStamp records the disk files just written into dir under key.
func writeStamp(dir, key string, m *manifest.Manifest) error {
	ds := diskStamp{Key: key, Disk: m.Disk, Slot: m.Slot}
	for _, name := range stampNames(m) {
		f, err := stampOf(dir, name)
		if err != nil {
			return fmt.Errorf("recording %s: %w", name, err)
		}
		ds.Files = append(ds.Files, f)
	}
	data, err := json.Marshal(ds)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, diskStampFile), data, 0o644)
}

func stampNames(m *manifest.Manifest) []string {
	names := []string{DiskFile}
	if m.Slot != nil {
		names = append(names, disk.SlotFile)
	}
	return names
}

// reuseDisk links the previous build's disk files from prev into dir
// when its stamp has key and the files are untouched since, filling m's
// disk and slot; false means nothing was reused.
func reuseDisk(prev, dir, key string, m *manifest.Manifest) bool {
	data, err := os.ReadFile(filepath.Join(prev, diskStampFile))
	if err != nil {
		return false
	}
	var ds diskStamp
	if json.Unmarshal(data, &ds) != nil || ds.Key != key || ds.Disk == nil || len(ds.Files) == 0 {
		return false
	}
	for _, f := range ds.Files {
		if now, err := stampOf(prev, f.Name); err != nil || now != f {
			return false
		}
	}
	undo := func() {
		for _, f := range ds.Files {
			os.Remove(filepath.Join(dir, f.Name))
		}
		os.Remove(filepath.Join(dir, diskStampFile))
	}
	if os.WriteFile(filepath.Join(dir, diskStampFile), data, 0o644) != nil {
		undo()
		return false
	}
	for _, f := range ds.Files {
		if err := os.Link(filepath.Join(prev, f.Name), filepath.Join(dir, f.Name)); err != nil {
			undo()
			return false
		}
	}
	m.Disk, m.Slot = ds.Disk, ds.Slot
	return true
}
