package manifest

// DebianPackage is one Debian package in the image.
type DebianPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"` // the package's: the board's or "all"
	SHA256  string `json:"sha256"`
	// DebBytes is the .deb's size; Bytes what it installs in the image,
	// without the documentation dropped.
	DebBytes int64 `json:"deb_bytes"`
	Bytes    int64 `json:"bytes"`
}
