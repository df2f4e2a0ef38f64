// Package manifest describes a built image: what `mkimage build` writes as
// manifest.json and what `mkimage boot` and the tests read back.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Name is the manifest's file name inside an output directory.
const Name = "manifest.json"

// Manifest is manifest.json.
type Manifest struct {
	Board         string `json:"board"`
	Arch          string `json:"arch"`
	Kernel        File   `json:"kernel"`
	Initramfs     File   `json:"initramfs"`
	Cmdline       string `json:"cmdline"`
	Console       string `json:"console"`
	KernelVersion string `json:"kernel_version"`
	KernelSource  string `json:"kernel_source"`
	ToolVersion   string `json:"tool_version"`
	Hostname      string `json:"hostname"`
	HTTPPort      int    `json:"http_port"`
	// HTTPSPort is the front end's HTTPS port, when it serves HTTPS.
	HTTPSPort int             `json:"https_port,omitempty"`
	Contents  []ContentsEntry `json:"contents"`
	// Debian are the Debian packages unpacked into the image, by name;
	// Contents leaves them out.
	Debian []DebianPackage `json:"debian,omitempty"`
	// Disk is the bootable disk image, for boards that have one.
	Disk *Disk `json:"disk,omitempty"`
	// DTB is the device tree QEMU gives a direct boot (-dtb), if any.
	DTB *File `json:"dtb,omitempty"`
	// Slot is the system slot's image (slot.img), for boards with A/B
	// slots: what `mkimage update` puts in a bundle.
	Slot *File `json:"slot,omitempty"`
	// Version is [update] version, when updates are on.
	Version string `json:"version,omitempty"`
	// UpdatePort is the port of [update] listen, when updates are on:
	// where `mkimage update` sends bundles by default.
	UpdatePort int `json:"update_port,omitempty"`
}

// File is one output file.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ContentsEntry says how much one program or tree adds to the initramfs.
type ContentsEntry struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Describe hashes the file dir/name.
func Describe(dir, name string) (File, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return File{}, fmt.Errorf("hashing output: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("hashing %s: %w", name, err)
	}
	return File{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Write writes m as dir/manifest.json.
func (m *Manifest) Write(dir string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, Name), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	return nil
}

// Read reads dir/manifest.json.
func Read(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, Name))
	if err != nil {
		return nil, fmt.Errorf("reading the image's manifest (is %s a `mkimage build` output?): %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", filepath.Join(dir, Name), err)
	}
	return &m, nil
}
