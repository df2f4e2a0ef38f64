// Command guest is the appliance's own programs in one multi-call binary,
// as u-root's busybox mode and gokrazy do for theirs: the Go runtime and
// the packages they share (net/http above all) are in the image once. The
// image holds it as /init, with /bin/httpfront, /bin/modload (with kernel
// modules) and /bin/updated (with [update]) as symlinks to it; it runs the program argv[0] names, and
// init for any other name (the kernel may start it under another name,
// and PID 1 must be init).
package main

import (
	"os"
	"path/filepath"

	"github.com/mkimage/mkimage/httpfront/frontcmd"
	"github.com/mkimage/mkimage/initsvc"
	"github.com/mkimage/mkimage/initsvc/modload"
	"github.com/mkimage/mkimage/updater/agent"
)

func main() {
	if os.Getpid() == 1 {
		initsvc.Main()
	}
	switch filepath.Base(os.Args[0]) {
	case "httpfront":
		frontcmd.Main()
	case "modload":
		modload.Main()
	case "updated":
		agent.Main()
	default:
		initsvc.Main()
	}
}
