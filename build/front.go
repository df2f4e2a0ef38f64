package build

import (
	"fmt"

	"github.com/mkimage/mkimage/config"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// deriveFront derives the front end's spec from the [web] section and the
// directory trees it needs in the image. Apps are added by derive.
func deriveFront(cfg *config.Config) (spec.Front, []rootfs.Tree) {
	trees := []rootfs.Tree{{Source: cfg.Resolve(cfg.Web.Root), Target: spec.WebRoot}}
	front := spec.Front{
		Listen: fmt.Sprintf(":%d", HTTPPort),
		Root:   spec.WebRoot,
		Index:  cfg.Web.Index,
	}
	for i, a := range cfg.Web.Aliases {
		dir := fmt.Sprintf("/srv/alias/%d", i)
		trees = append(trees, rootfs.Tree{Source: cfg.Resolve(a.Dir), Target: dir})
		front.Aliases = append(front.Aliases, spec.Alias{Prefix: a.Prefix, Dir: dir})
	}
	return front, trees
}
