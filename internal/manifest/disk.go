package manifest

// Disk describes the disk image (raw; Formats lists the other encodings
// written beside it).
type Disk struct {
	File
	// Cmdline is the kernel command line of a disk boot; where the kernel
	// maps its root from the slot, without the root's arguments, which
	// the slot's cmdline.cfg adds (they name the slot's partition).
	Cmdline string `json:"cmdline"`
	DiskLayout
	Formats []File `json:"formats,omitempty"`
}

// DiskLayout is the partition table of a disk image.
type DiskLayout struct {
	Table      string      `json:"table"` // "gpt" or "mbr"
	DiskID     string      `json:"disk_id"`
	Partitions []Partition `json:"partitions"`
	// BootFiles lists the boot partition's files with their sizes.
	BootFiles []BootFile `json:"boot_files"`
}

// Partition is one partition of a disk image.
type Partition struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Start int64  `json:"start"` // bytes
	Size  int64  `json:"size"`  // bytes
	FS    string `json:"fs,omitempty"`
	Label string `json:"label,omitempty"`
	GUID  string `json:"guid,omitempty"`
}

// BootFile is one file on the boot partition.
type BootFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}
