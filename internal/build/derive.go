package build

import (
	"cmp"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/disk"
	"github.com/mkimage/mkimage/internal/guestsrc"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// HTTPPort is the port the front end listens on inside the guest.
const HTTPPort = 80

// guestPkg is the tool's own guest programs in one multi-call binary,
// /init; the others are its aliases (rootfs.Program.Aliases).
const guestPkg = "./cmd/guest"

// GuestPackages returns the packages of the tool's own guest programs.
func GuestPackages() []string { return []string{guestPkg} }

// plan is everything derived from the config before anything is built.
type plan struct {
	src       string // the unpacked guest sources, where guest programs build
	goEnv     []string
	init      spec.Init
	front     spec.Front
	programs  []rootfs.Program
	trees     []rootfs.Tree
	hostFiles []string
	files     []rootfs.File // spec files and kernel modules (addKernel)
	perms     []rootfs.Perm
	debian    debianPlan // Debian packages, fetched when building
	https     []string   // HTTPS in words, with warnings (addTLS)
}

func derive(cfg *config.Config, b board.Board, src string) (plan, error) {
	p := plan{src: src}
	p.programs = []rootfs.Program{
		{Name: "init", Package: guestPkg, Dir: src, Target: "init", Aliases: []string{spec.BinDir + "/httpfront"}},
	}
	p.front, p.trees = deriveFront(cfg)
	p.init = spec.Init{
		Hostname: cfg.Hostname,
		Network:  deriveNetwork(cfg.Network, b.LinkTimeout),
		NTP:      cfg.Network.NTP,
	}
	for i, a := range cfg.Apps {
		app := spec.App{
			Name: a.Name, Prefix: a.Prefix, CheckLocal: a.CheckLocal, Host: a.Host,
			Mode: a.Mode, Backends: a.Backends, FastCGI: fastCGISpec(a.FastCGI),
		}
		uid := spec.FirstAppUID + len(p.init.Pools)
		switch {
		case a.Python != "":
			p.init.Pools = append(p.init.Pools, p.pythonPool(a, uid))
			app.Pool = a.Name
		case fromDebian(a):
			p.init.Pools = append(p.init.Pools, poolSpec(a, path.Clean(a.Program), uid))
			app.Pool = a.Name
		case a.Program != "":
			prog, err := appProgram(cfg, a, src)
			if err != nil {
				return p, cfg.Errorf(fmt.Sprintf("app.%d.program", i), "%v", err)
			}
			p.programs = append(p.programs, prog)
			p.init.Pools = append(p.init.Pools, poolSpec(a, prog.Target, uid))
			app.Pool = a.Name
		}
		p.addCode(cfg, a)
		p.hostFiles = append(p.hostFiles, a.Files...)
		p.front.Apps = append(p.front.Apps, app)
	}
	if err := p.addTLS(cfg, time.Now()); err != nil {
		return p, err
	}
	if err := p.addUpdate(cfg, b, disk.ABOf); err != nil {
		return p, err
	}
	var err error
	if p.debian, err = deriveDebian(cfg); err != nil {
		return p, err
	}
	p.init.Services = []spec.Service{{
		Name: "httpfront", Path: spec.BinDir + "/httpfront",
		Args: []string{"-config", spec.FrontPath},
		UID:  spec.FrontUID, BindLowPorts: true,
		Ready: fmt.Sprintf("tcp:127.0.0.1:%d", HTTPPort),
	}}
	if len(p.init.Pools) > 0 {
		p.init.Services[0].Args = []string{"-config", spec.RuntimeFrontPath}
	}
	p.perms = derivePerms(cfg, p.init.Pools)
	p.trimGuest()
	return p, nil
}

// derivePerms gives the image's own files their owners and modes, then
// applies the user's [[permissions]]. Only init reads init.json (an app's
// environment may hold secrets); the front end's user reads its spec and
// the TLS key, which the apps' user cannot.
func derivePerms(cfg *config.Config, pools []spec.Pool) []rootfs.Perm {
	perms := []rootfs.Perm{
		{Path: spec.InitPath, Mode: 0o600},
		{Path: spec.FrontPath, GID: spec.FrontUID, Mode: 0o640},
	}
	if dir, _ := cfg.CertDir(); dir != "" {
		perms = append(perms, rootfs.Perm{Path: tlsDir, UID: spec.FrontUID, GID: spec.FrontUID, Mode: 0o600})
	}
	uids := map[string]uint64{"": 0, "root": 0, "httpfront": spec.FrontUID}
	for _, pl := range pools {
		uids[pl.Name] = uint64(pl.UID)
	}
	for _, u := range cfg.Permissions {
		id := uids[u.Owner]                 // validated: root, httpfront or an app with a program
		mode, _ := config.ParseMode(u.Mode) // validated; "" is 0: keep
		perms = append(perms, rootfs.Perm{Path: u.Path, UID: id, GID: id, Mode: uint64(mode)})
	}
	return perms
}

func poolSpec(a config.App, path string, uid int) spec.Pool {
	procs, _ := a.ProcCount()
	stack, _ := a.StackBytes()
	return spec.Pool{
		Name: a.Name, Path: path, Args: a.Args, Env: envList(a.Env),
		CopyEnv: a.CopyEnv, Procs: procs, StackSize: stack,
		MaxThreads: a.MaxThreads, MinSpare: a.MinSpare, MaxSpare: a.MaxSpare,
		MaxRequests: a.MaxRequests, RequestTimeout: a.RequestTimeout, BaseMiB: a.BaseMiB(),
		UID: uid, DataDir: spec.AppDataDir(a.Name),
	}
}

// appProgram resolves an app's program: a directory holding a Go main
// package or an executable file (paths are relative to the config file), or
// a Go import path (built in this tool's tree when it is one of its own
// packages, else in the module around the config file).
func appProgram(cfg *config.Config, a config.App, src string) (rootfs.Program, error) {
	prog := rootfs.Program{Name: "app-" + a.Name, Target: path.Join(spec.BinDir, a.Name)}
	p := a.Program
	if strings.HasPrefix(p, ".") || filepath.IsAbs(p) {
		full := cfg.Resolve(p)
		st, err := os.Stat(full)
		switch {
		case err != nil:
			return prog, fmt.Errorf("%s does not exist", full)
		case st.IsDir():
			prog.Package, prog.Dir = ".", full
		case st.Mode()&0o111 == 0:
			return prog, fmt.Errorf("%s is not executable", full)
		default:
			prog.File = full
		}
		return prog, nil
	}
	prog.Package, prog.Dir = p, cfg.Dir
	if p == guestsrc.Module || strings.HasPrefix(p, guestsrc.Module+"/") {
		prog.Dir = src
	}
	return prog, nil
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func deriveNetwork(n config.Network, boardTimeout string) []spec.Interface {
	var out []spec.Interface
	for _, i := range n.AllInterfaces() {
		var addrs []string
		if i.Address != "" {
			addrs = append(addrs, i.Address)
		}
		out = append(out, spec.Interface{
			Name: i.Interface, DHCP: i.DHCP, Addresses: append(addrs, i.Addresses...),
			Gateway: i.Gateway, Gateway6: i.Gateway6, DNS: i.DNS, MTU: i.MTU,
			SLAAC: i.SLAAC == nil || *i.SLAAC, LinkTimeout: cmp.Or(i.LinkTimeout, boardTimeout),
		})
	}
	return out
}

// noACMETag leaves the ACME client (certmagic: 3 MB of a binary that
// lives in RAM) out of /init when the front end has no use for it.
const noACMETag = "noacme"

// trimGuest builds /init without what the image's config does not use.
func (p *plan) trimGuest() {
	if p.front.ACME == nil {
		p.programs[0].Tags = append(p.programs[0].Tags, noACMETag)
	}
}

// addAlias names the multi-call /init (the plan's first program) at path
// too.
func (p *plan) addAlias(path string) {
	p.programs[0].Aliases = append(p.programs[0].Aliases, path)
}
