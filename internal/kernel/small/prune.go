package small

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// keepPerArch is how many kernels of one architecture the cache keeps:
// other configs (an older mkimage, a changed fragment) are built again if
// they come back.
const keepPerArch = 2

// prune removes all but the keepPerArch most recently built kernels of
// arch's cache entries in cacheDir (directories and their build logs;
// lock files stay: another build may hold one). Errors are ignored: the
// cache only grows.
func prune(cacheDir, goarch string) {
	ents, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	type built struct {
		name string
		mod  int64
	}
	var all []built
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), goarch+"-") {
			continue
		}
		if info, err := e.Info(); err == nil {
			all = append(all, built{e.Name(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod > all[j].mod })
	for _, b := range all[min(len(all), keepPerArch):] {
		os.RemoveAll(filepath.Join(cacheDir, b.name))
		os.Remove(filepath.Join(cacheDir, b.name+".log"))
	}
}
