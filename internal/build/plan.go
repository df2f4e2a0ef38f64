package build

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/disk"
	"github.com/mkimage/mkimage/internal/kernel"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// addKernel completes the plan with what the kernel decides: the modules
// to load (and modload to load them), their files, and the spec files,
// which carry the module list. After it the plan is final: the work only
// carries it out.
func (p *plan) addKernel(cfg *config.Config, b board.Board, k kernel.Kernel) error {
	load := append(append([]string{}, b.Load...), cfg.Kernel.Load...)
	if cfg.Kernel.Path == "" {
		load = b.Load
	}
	modFiles, err := moduleFiles(k, load)
	if err != nil {
		return err
	}
	if len(modFiles) > 0 {
		p.init.Modules = load
		p.addAlias(spec.BinDir + "/modload")
	}
	files, err := specFiles(*p)
	if err != nil {
		return err
	}
	p.files = append(append(p.files, files...), modFiles...)
	return nil
}

// describe writes the plan in words: what goes into the image, from where
// and how big where that is known before building.
func (p plan) describe(w io.Writer, b board.Board, k kernel.Kernel) error {
	if w == nil {
		w = io.Discard
	}
	fmt.Fprintf(w, "plan for board %s (%s), hostname %s\n", b.Name, b.GOARCH, p.init.Hostname)
	fmt.Fprintf(w, "kernel    %s %s\n", k.Source, k.Version)
	fmt.Fprintf(w, "disk      %s\n", disk.Describe(b))
	if len(p.init.Modules) > 0 {
		fmt.Fprintf(w, "modules   %s\n", strings.Join(p.init.Modules, " "))
	}
	for _, pr := range p.programs {
		from := pr.File
		if pr.Package != "" {
			from = "Go package " + pr.Package + " (built for " + b.GOARCH + ")"
		}
		if len(pr.Tags) > 0 {
			from += ", tags " + strings.Join(pr.Tags, ",")
		}
		fmt.Fprintf(w, "program   %-22s from %s\n", path.Join("/", pr.Target), from)
		for _, a := range pr.Aliases {
			fmt.Fprintf(w, "program   %-22s the same (-> %s)\n", a, path.Join("/", pr.Target))
		}
	}
	for _, t := range p.trees {
		fmt.Fprintf(w, "tree      %-22s from %s\n", t.Target, t.Source)
	}
	for _, h := range p.hostFiles {
		fmt.Fprintf(w, "host file %s\n", h)
	}
	p.debian.describe(w, b)
	for _, f := range p.files {
		if f.Link != "" {
			fmt.Fprintf(w, "symlink   %-22s to %s\n", f.Target, f.Link)
			continue
		}
		fmt.Fprintf(w, "file      %-22s %d bytes\n", f.Target, len(f.Data))
	}
	for _, pm := range p.perms {
		mode := "mode kept"
		if pm.Mode != 0 {
			mode = fmt.Sprintf("mode %04o", pm.Mode)
		}
		fmt.Fprintf(w, "owner     %-22s uid %d gid %d, %s\n", pm.Path, pm.UID, pm.GID, mode)
	}
	for _, pl := range p.init.Pools {
		fmt.Fprintf(w, "pool      %-22s uid %d, DATA_DIR %s, procs %s\n", pl.Name, pl.UID, pl.DataDir, procsWord(pl.Procs))
	}
	for _, sv := range p.init.Services {
		fmt.Fprintf(w, "service   %-22s uid %d\n", sv.Name, sv.UID)
	}
	for _, h := range p.https {
		fmt.Fprintf(w, "https     %s\n", h)
	}
	describeUpdate(w, p.init.Update)
	return nil
}

func procsWord(n int) string {
	if n == 0 {
		return "auto"
	}
	return fmt.Sprint(n)
}

func specFiles(p plan) ([]rootfs.File, error) {
	initJSON, err := json.MarshalIndent(p.init, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding init spec: %w", err)
	}
	frontJSON, err := json.MarshalIndent(p.front, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding front end spec: %w", err)
	}
	return []rootfs.File{
		{Target: spec.InitPath, Data: initJSON, Mode: 0o644},
		{Target: spec.FrontPath, Data: frontJSON, Mode: 0o644},
		// init writes the name servers on /run: the root may be read-only
		{Target: spec.ResolvConfLink, Link: spec.ResolvConfPath},
	}, nil
}

// moduleFiles selects the modules to load and what they depend on, and
// returns their files for the image; init loads them by name with u-root's
// kmodule, which reads the same modules.dep.
func moduleFiles(k kernel.Kernel, load []string) ([]rootfs.File, error) {
	if k.Modules == "" || len(load) == 0 {
		return nil, nil
	}
	set, err := kernel.SelectModules(k.Modules, load)
	if err != nil {
		return nil, err
	}
	dir := "/lib/modules/" + set.Version + "/"
	files := []rootfs.File{{Target: dir + "modules.dep", Data: set.Dep, Mode: 0o644}}
	for _, rel := range set.Files {
		data, err := os.ReadFile(filepath.Join(set.Dir, rel))
		if err != nil {
			return nil, fmt.Errorf("reading kernel module file: %w", err)
		}
		files = append(files, rootfs.File{Target: dir + rel, Data: data, Mode: 0o644})
	}
	return files, nil
}
