package bundle

import (
	"fmt"
	"strings"
)

// RunningSystem is what a receiver knows of itself when a bundle arrives.
type RunningSystem struct {
	Board, Arch string
	// Version is the running appliance's version (semver, no leading v).
	Version string
	// SlotBytes is the size of the slot the image would be written to.
	SlotBytes int64
}

// Check decides from a verified header whether the bundle applies to the
// running system: the same board and arch, a newer version (or a signed
// downgrade), an image that fits the slot. It reports every reason at once,
// each naming both values; the error wraps ErrNotApplicable.
func Check(h Header, running RunningSystem) error {
	var errs []string
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	if h.Board != running.Board {
		bad("the bundle is for board %q, this system is %q", h.Board, running.Board)
	}
	if h.Arch != running.Arch {
		bad("the bundle is for arch %q, this system is %q", h.Arch, running.Arch)
	}
	switch {
	case ValidVersion(h.Version) != nil:
		bad("the bundle's version: %v", ValidVersion(h.Version))
	case ValidVersion(running.Version) != nil:
		bad("the running version: %v", ValidVersion(running.Version))
	case h.Downgrade:
	case compareVersions(h.Version, running.Version) == 0:
		bad("the bundle's version %s is the running version %s (installing it again needs a bundle signed as a downgrade)", h.Version, running.Version)
	case compareVersions(h.Version, running.Version) < 0:
		bad("the bundle's version %s is older than the running version %s (and the bundle is not signed as a downgrade)", h.Version, running.Version)
	}
	if h.Payload.ImageSize > running.SlotBytes {
		bad("the image is %d bytes, the slot holds %d", h.Payload.ImageSize, running.SlotBytes)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNotApplicable, strings.Join(errs, "; "))
}
