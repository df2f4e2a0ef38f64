package initsvc

import (
	"errors"
	"fmt"
	"os"
)

// errInitramfsCut: the kernel did not unpack the whole initramfs.
var errInitramfsCut = errors.New("the initramfs was not unpacked to its end (the kernel ran out of memory while unpacking it, or the archive is cut short): files are missing; give the machine more RAM")

// checkInitramfs looks for the archive's last file (spec.InitramfsEndPath
// at path), which the build always writes.
func checkInitramfs(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w (%s: %v)", errInitramfsCut, path, err)
	}
	return nil
}
