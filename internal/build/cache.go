package build

import (
	"os"
	"path/filepath"

	"github.com/mkimage/mkimage/rootfs"
)

// buildCache is where linked programs and compressed archives are kept
// between builds ($XDG_CACHE_HOME/mkimage/build, 512 MiB at most); nil
// (no caching) when there is no cache directory or MKIMAGE_BUILD_CACHE=off.
func buildCache() *rootfs.Cache {
	if os.Getenv("MKIMAGE_BUILD_CACHE") == "off" {
		return nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil
	}
	return &rootfs.Cache{Dir: filepath.Join(dir, "mkimage", "build"), Max: rootfs.DefaultCacheMax}
}
