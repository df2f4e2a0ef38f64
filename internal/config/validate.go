package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mkimage/mkimage/board"
)

// Error is a validation error that points at a key in the file.
type Error struct {
	Where string // file:line:col
	Key   string
	Msg   string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s: %s", e.Where, e.Key, e.Msg) }

var (
	hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	envKeyRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Errorf returns an error pointing at key's position in the file, for checks
// made outside this package.
func (c *Config) Errorf(key, format string, args ...any) error { return c.errf(key, format, args...) }

func (c *Config) errf(key, format string, args ...any) error {
	return &Error{Where: c.pos.at(c.Path, key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := board.Lookup(c.Board); err != nil {
		add(c.errf("board", "%v", err))
	}
	if !hostnameRE.MatchString(c.Hostname) {
		add(c.errf("hostname", "%q is not a valid host name (letters, digits and '-', at most 63)", c.Hostname))
	}
	add(c.validateKernel())
	add(c.validateNetwork())
	add(c.validateWeb())
	add(c.validateApps())
	add(c.validatePermissions())
	add(c.validateUpdate())
	add(c.validateDebian())
	return inFileOrder(errs)
}

// inFileOrder joins every error found, sorted by where it points in the
// file, so a user sees them all at once and in the order of the file.
func inFileOrder(errs []error) error {
	var flat []error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if err != nil {
			flat = append(flat, err)
		}
	}
	for _, e := range errs {
		walk(e)
	}
	sort.SliceStable(flat, func(i, j int) bool {
		li, ci := position(flat[i])
		lj, cj := position(flat[j])
		return li < lj || (li == lj && ci < cj)
	})
	return errors.Join(flat...)
}

// position is the line and column an Error points at (unknown: last).
func position(err error) (int, int) {
	var e *Error
	if !errors.As(err, &e) {
		return 1 << 30, 0
	}
	parts := strings.Split(e.Where, ":")
	if len(parts) < 3 {
		return 1 << 30, 0
	}
	line, err1 := strconv.Atoi(parts[len(parts)-2])
	col, err2 := strconv.Atoi(parts[len(parts)-1])
	if err1 != nil || err2 != nil {
		return 1 << 30, 0
	}
	return line, col
}

func (c *Config) validateKernel() error {
	var errs []error
	k := c.Kernel
	if hasControl(k.Cmdline) {
		errs = append(errs, c.errf("kernel.cmdline", "%q contains control characters", k.Cmdline))
	}
	if strings.ContainsAny(k.Cmdline, "\"$\\`") {
		errs = append(errs, c.errf("kernel.cmdline", "%q: the boot loader's config cannot hold \" $ \\ or `", k.Cmdline))
	}
	switch {
	case k.Build != "" && k.Build != "small":
		errs = append(errs, c.errf("kernel.build", "unknown kernel build %q: the one there is is \"small\"", k.Build))
	case k.Build != "" && k.Path != "":
		errs = append(errs, c.errf("kernel.build", "build and path both choose the kernel: keep one"))
	}
	if k.Path != "" {
		if st, err := os.Stat(c.Resolve(k.Path)); err != nil || !st.Mode().IsRegular() {
			errs = append(errs, c.errf("kernel.path", "kernel %s is not a readable file", c.Resolve(k.Path)))
		}
	} else if k.Modules != "" {
		errs = append(errs, c.errf("kernel.modules", "modules needs kernel.path: the board's kernel has its own"))
	}
	if k.Modules != "" {
		if st, err := os.Stat(c.Resolve(k.Modules)); err != nil || !st.IsDir() {
			errs = append(errs, c.errf("kernel.modules", "modules directory %s does not exist", c.Resolve(k.Modules)))
		}
	}
	if len(k.Load) > 0 && k.Modules == "" {
		errs = append(errs, c.errf("kernel.load", "loading modules needs kernel.modules"))
	}
	return errors.Join(errs...)
}

func (c *Config) validateApps() error {
	var errs []error
	names, prefixes := map[string]bool{}, map[string]bool{}
	for i, a := range c.Apps {
		key := fmt.Sprintf("app.%d", i)
		if !nameRE.MatchString(a.Name) {
			errs = append(errs, c.errf(key+".name", "%q: an app needs a name of lower-case letters, digits, '-' or '_'", a.Name))
		}
		if reservedNames[a.Name] {
			errs = append(errs, c.errf(key+".name", "%q is reserved for the tool's own programs: choose another name", a.Name))
		}
		if names[a.Name] {
			errs = append(errs, c.errf(key+".name", "two apps are named %q", a.Name))
		}
		names[a.Name] = true
		if err := checkPrefix(a.Prefix); err != nil {
			errs = append(errs, c.errf(key+".prefix", "%v", err))
		}
		if prefixes[a.Prefix] {
			errs = append(errs, c.errf(key+".prefix", "two apps share the prefix %s", a.Prefix))
		}
		prefixes[a.Prefix] = true
		if err := c.validatePython(key, a); err != nil {
			errs = append(errs, err)
		}
		if err := c.validateAppRouting(key, a); err != nil {
			errs = append(errs, err)
		}
		if _, err := a.ProcCount(); err != nil {
			errs = append(errs, c.errf(key+".procs", "%v", err))
		}
		for _, f := range a.Files {
			if !filepath.IsAbs(f) {
				errs = append(errs, c.errf(key+".files", "%q: files are absolute host paths, copied to the same path in the image", f))
				continue
			}
			if err := checkImagePath(f); err != nil {
				errs = append(errs, c.errf(key+".files", "%v", err))
				continue
			}
			if _, err := os.Lstat(f); err != nil {
				errs = append(errs, c.errf(key+".files", "%s does not exist on this machine", f))
			}
		}
		if err := c.validateTuning(key, a); err != nil {
			errs = append(errs, err)
		}
		for _, k := range slices.Sorted(maps.Keys(a.Env)) {
			v := a.Env[k]
			if !envKeyRE.MatchString(k) {
				errs = append(errs, c.errf(key+".env", "%q is not an environment variable name", k))
			}
			if err := noNUL(v); err != nil {
				errs = append(errs, c.errf(key+".env", "%s: %v", k, err))
			}
		}
		if err := noNUL(a.Program); err != nil {
			errs = append(errs, c.errf(key+".program", "%v", err))
		}
		for _, s := range a.Args {
			if err := noNUL(s); err != nil {
				errs = append(errs, c.errf(key+".args", "%v", err))
			}
		}
		for _, k := range a.CopyEnv {
			if !envKeyRE.MatchString(k) {
				errs = append(errs, c.errf(key+".copy_env", "%q is not an environment variable name", k))
			}
		}
	}
	return errors.Join(errs...)
}

// ProcCount returns the configured pool size; 0 means auto.
func (a App) ProcCount() (int, error) {
	switch v := a.Procs.(type) {
	case string:
		if v == "auto" {
			return 0, nil
		}
	case int64:
		if v >= 1 && v <= 256 {
			return int(v), nil
		}
		return 0, fmt.Errorf("%d processes: use 1 to 256, or \"auto\" for one per physical core", v)
	}
	return 0, fmt.Errorf("%v: use a number of processes or \"auto\"", a.Procs)
}

func checkPrefix(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q: a URL prefix starts with /", p)
	}
	if p != "/" && strings.HasSuffix(p, "/") {
		return fmt.Errorf("%q: drop the trailing /", p)
	}
	if strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/..") || strings.ContainsAny(p, "?#% \t\\") || hasControl(p) {
		return fmt.Errorf("%q: a URL prefix is plain path segments", p)
	}
	return nil
}

// hasControl reports ASCII control characters (NUL, CR, LF...), which no
// path, header value or command line in the guest may carry.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func isDir(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("directory %s does not exist", p)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	return nil
}

// validateAppRouting checks how requests reach the app.
func (c *Config) validateAppRouting(key string, a App) error {
	var errs []error
	switch {
	case a.Program == "" && len(a.Backends) == 0 && a.Python == "":
		errs = append(errs, c.errf(key+".program", "missing: a Go package (./dir or import path) or an executable file, a python WSGI app, or backends"))
	case a.Program != "" && len(a.Backends) > 0:
		errs = append(errs, c.errf(key+".backends", "an app has either a program (run in the image) or backends (outside it), not both"))
	}
	for _, b := range a.Backends {
		kind, addr, ok := strings.Cut(b, ":")
		if !ok || addr == "" || (kind != "tcp" && kind != "unix") {
			errs = append(errs, c.errf(key+".backends", "%q: use \"tcp:HOST:PORT\" or \"unix:/PATH\"", b))
			continue
		}
		if kind == "tcp" {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				errs = append(errs, c.errf(key+".backends", "%q: want tcp:HOST:PORT", b))
			}
		}
	}
	switch a.Mode {
	case "", "responder", "authorizer":
	default:
		errs = append(errs, c.errf(key+".mode", "%q: use \"responder\" or \"authorizer\"", a.Mode))
	}
	if _, err := regexp.Compile(a.Host); err != nil {
		errs = append(errs, c.errf(key+".host", "%q is not a regular expression: %v", a.Host, err))
	}
	errs = append(errs, c.validateFastCGI(key+".fastcgi", a.FastCGI))
	return errors.Join(errs...)
}
