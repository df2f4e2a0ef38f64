package build

import (
	"slices"

	"github.com/mkimage/mkimage/fcgiserver/python"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// pythonPool is a python app's pool: Debian's python3 running the WSGI
// server (mkimage_wsgi.py, put into the image once) on the app's
// "module:callable", with the environment the seed gives its app (LANG=C,
// PYTHON_EGG_CACHE) and none of Python's writes to a read-only tree.
// Configured env wins.
func (p *plan) pythonPool(a config.App, uid int) spec.Pool {
	pool := poolSpec(a, spec.PythonPath, uid)
	pool.Args = []string{spec.WSGIServerPath, a.Python}
	pool.Env = append([]string{
		"LANG=C",
		"PYTHONDONTWRITEBYTECODE=1", // the image's tree is not the app's to write
		"PYTHONUNBUFFERED=1",        // stderr lines reach the console as they are written
		"PYTHON_EGG_CACHE=" + pool.DataDir + "/.python-eggs",
	}, pool.Env...)
	if !slices.ContainsFunc(p.files, func(f rootfs.File) bool { return f.Target == spec.WSGIServerPath }) {
		p.files = append(p.files, rootfs.File{Target: spec.WSGIServerPath, Data: python.Server, Mode: 0o644})
	}
	return pool
}

// addCode copies an app's code directory to /app/NAME (root's, read-only
// for the app) and names it in the app's environment as APP_DIR.
func (p *plan) addCode(cfg *config.Config, a config.App) {
	if a.Code == "" {
		return
	}
	dir := spec.AppCodeDir(a.Name)
	p.trees = append(p.trees, rootfs.Tree{Source: cfg.Resolve(a.Code), Target: dir})
	for i := range p.init.Pools {
		if pl := &p.init.Pools[i]; pl.Name == a.Name {
			pl.Env = append([]string{"APP_DIR=" + dir}, pl.Env...)
		}
	}
}
