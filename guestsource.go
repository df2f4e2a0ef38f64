// Package mkimage carries the sources of the programs mkimage builds into
// images (init, the front end, the module loader, the update agent, the
// example app) and of the library apps import (fcgiserver), with go.mod and
// go.sum, so an installed mkimage binary builds them with the go command and
// serves the module to a user's own app without a source checkout. The
// command is cmd/mkimage; internal/guestsrc unpacks this tree.
//
// The list below is every package of this module that a guest program
// imports; internal/guestsrc's test keeps it equal to what `go list -deps`
// says (MKIMAGE_UPDATE_DOCS=1 rewrites it).
package mkimage

import "embed"

// GuestSource is the embedded tree, rooted at the module's root.
//
//go:embed go.mod go.sum
//go:embed bundle/*.go
//go:embed cmd/guest/*.go
//go:embed examples/fcgiapp/*.go
//go:embed fcgiserver/*.go
//go:embed fcgiserver/record/*.go
//go:embed httpfront/*.go
//go:embed httpfront/fcgiclient/*.go
//go:embed httpfront/frontcmd/*.go
//go:embed initsvc/*.go
//go:embed initsvc/modload/*.go
//go:embed internal/testkit/*.go
//go:embed spec/*.go
//go:embed tuning/*.go
//go:embed updater/*.go
//go:embed updater/agent/*.go
//go:embed updater/slots/*.go
var GuestSource embed.FS

// Version is this tool's version. A release's module version is "v" +
// Version; a development build serves its module as
// v{Version}.g{hash of GuestSource} so that every change is a new version.
const Version = "0.1.0-dev"
