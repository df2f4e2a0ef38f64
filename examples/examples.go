// Package examples holds the starting points `mkimage init` writes: the
// example appliance (every key, commented; the boot tests build the same
// files, so what users get first is what CI boots) and a small starter per
// kind of app in starters/.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed appliance starters
var files embed.FS

// Kind is one starting point.
type Kind struct {
	Name, Description string
	dir               string
}

// Kinds lists the starting points, the default first.
var Kinds = []Kind{
	{"example", "the example appliance: every key, commented, and the tool's example Go app", "appliance"},
	{"go", "a Go FastCGI app in its own module (./app) that imports fcgiserver, and a static site", "starters/go"},
	{"php", "this machine's php-cgi serving www/php/*.php, and a static site", "starters/php"},
	{"python", "a Python WSGI app (Flask from Debian 12) with a SQLite database on /data, served as the seed served its app", "starters/python"},
	{"static", "a static site only (www/)", "starters/static"},
}

// Starter returns the files of the starting point named kind.
func Starter(kind string) (fs.FS, error) {
	for _, k := range Kinds {
		if k.Name == kind {
			return fs.Sub(files, k.dir)
		}
	}
	return nil, fmt.Errorf("unknown starter %q (one of example, go, php, python, static)", kind)
}
