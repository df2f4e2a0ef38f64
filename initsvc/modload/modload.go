// Package modload is the modload command of the appliance's multi-call
// binary: it loads kernel modules by name with their dependencies, using
// u-root's kmodule and the image's /lib/modules/$(uname -r)/modules.dep.
// Init runs it (as /bin/modload) only in images that carry modules, in a
// process of its own.
package modload

import (
	"fmt"
	"os"

	"github.com/u-root/u-root/pkg/kmodule"
)

// Main loads the modules named in os.Args[1:] and exits.
func Main() {
	failed := 0
	for _, name := range os.Args[1:] {
		if err := kmodule.Probe(name, ""); err != nil {
			fmt.Fprintf(os.Stderr, "loading module %s: %v\n", name, err)
			failed++
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
	os.Exit(0)
}
