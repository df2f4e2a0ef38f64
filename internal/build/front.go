package build

import (
	"fmt"
	"time"

	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// deriveFront derives the front end's spec from the [web] section and the
// directory trees it needs in the image. Apps are added by derive.
func deriveFront(cfg *config.Config) (spec.Front, []rootfs.Tree) {
	w := cfg.Web
	trees := []rootfs.Tree{{Source: cfg.Resolve(w.Root), Target: spec.WebRoot}}
	front := spec.Front{
		Listen:         fmt.Sprintf(":%d", HTTPPort),
		Root:           spec.WebRoot,
		Index:          w.Index,
		DirListing:     w.DirListing,
		AccessLog:      w.AccessLog,
		MaxHeaderBytes: w.MaxHeaderBytes,
		MaxBodyBytes:   w.MaxBodyBytes,
		SpoolBytes:     w.SpoolBytes,
		// Validated by config; a bad value cannot reach this point.
		ReadHeaderTimeoutMS: millis(w.ReadHeaderTimeout),
		ReadBodyTimeoutMS:   millis(w.ReadBodyTimeout),
		WriteTimeoutMS:      millis(w.WriteTimeout),
		IdleTimeoutMS:       millis(w.IdleTimeout),
		FastCGI:             fastCGISpec(w.FastCGI),
		TrustedProxies:      w.TrustedProxies,
		// Chunked uploads spool on the data partition (init makes the
		// directory), not in /tmp, which is RAM.
		TempDir: spec.FrontSpoolDir,
	}
	if w.Status.Path != "" {
		front.Status = spec.StatusPage{Path: w.Status.Path, Socket: spec.StatusSocket, Allow: w.Status.Allow}
	}
	for _, r := range w.CacheControl {
		front.CacheControl = append(front.CacheControl, spec.CacheRule{Prefix: r.Prefix, Ext: r.Ext, Value: r.Value})
	}
	for i, a := range w.Aliases {
		dir := fmt.Sprintf("/srv/alias/%d", i)
		trees = append(trees, rootfs.Tree{Source: cfg.Resolve(a.Dir), Target: dir})
		front.Aliases = append(front.Aliases, spec.Alias{Prefix: a.Prefix, Dir: dir, Host: a.Host})
	}
	trees = append(trees, frontTLS(cfg, &front)...)
	return front, trees
}

func fastCGISpec(f config.FastCGI) spec.FastCGI {
	return spec.FastCGI{
		ConnectTimeoutMS:  millis(f.ConnectTimeout),
		ResponseTimeoutMS: millis(f.ResponseTimeout),
		DownTimeMS:        millis(f.DownTime),
		KeepConn:          f.KeepConn,
		MaxHeaderBytes:    f.MaxHeaderBytes,
		XSendfile:         f.XSendfile,
	}
}

func millis(s string) int {
	d, err := config.Duration(s)
	if err != nil {
		return 0
	}
	return int(d / time.Millisecond)
}
