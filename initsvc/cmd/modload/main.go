// Command modload loads kernel modules by name with their dependencies,
// using u-root's kmodule and the image's /lib/modules/$(uname -r)/
// modules.dep. Init runs it only in images that carry modules, which keeps
// the compression code kmodule brings out of PID 1.
package main

import (
	"fmt"
	"os"

	"github.com/u-root/u-root/pkg/kmodule"
)

func main() {
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
}
