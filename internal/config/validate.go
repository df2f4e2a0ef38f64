package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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
// made outside this package (the board name against the registry).
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
	if !hostnameRE.MatchString(c.Hostname) {
		add(c.errf("hostname", "%q is not a valid host name (letters, digits and '-', at most 63)", c.Hostname))
	}
	add(c.validateKernel())
	add(c.validateNetwork())
	add(c.validateWeb())
	add(c.validateApps())
	add(c.validatePermissions())
	return errors.Join(errs...)
}

func (c *Config) validateKernel() error {
	k := c.Kernel
	if hasControl(k.Cmdline) {
		return c.errf("kernel.cmdline", "%q contains control characters", k.Cmdline)
	}
	if k.Path != "" {
		if st, err := os.Stat(c.Resolve(k.Path)); err != nil || !st.Mode().IsRegular() {
			return c.errf("kernel.path", "kernel %s is not a readable file", c.Resolve(k.Path))
		}
	} else if k.Modules != "" {
		return c.errf("kernel.modules", "modules needs kernel.path: the board's kernel has its own")
	}
	if k.Modules != "" {
		if st, err := os.Stat(c.Resolve(k.Modules)); err != nil || !st.IsDir() {
			return c.errf("kernel.modules", "modules directory %s does not exist", c.Resolve(k.Modules))
		}
	}
	if len(k.Load) > 0 && k.Modules == "" {
		return c.errf("kernel.load", "loading modules needs kernel.modules")
	}
	return nil
}

func (c *Config) validateApps() error {
	names, prefixes := map[string]bool{}, map[string]bool{}
	for i, a := range c.Apps {
		key := fmt.Sprintf("app.%d", i)
		if !nameRE.MatchString(a.Name) {
			return c.errf(key+".name", "%q: an app needs a name of lower-case letters, digits, '-' or '_'", a.Name)
		}
		if reservedNames[a.Name] {
			return c.errf(key+".name", "%q is reserved for the tool's own programs: choose another name", a.Name)
		}
		if names[a.Name] {
			return c.errf(key+".name", "two apps are named %q", a.Name)
		}
		names[a.Name] = true
		if err := checkPrefix(a.Prefix); err != nil {
			return c.errf(key+".prefix", "%v", err)
		}
		if prefixes[a.Prefix] {
			return c.errf(key+".prefix", "two apps share the prefix %s", a.Prefix)
		}
		prefixes[a.Prefix] = true
		if err := c.validateAppRouting(key, a); err != nil {
			return err
		}
		if _, err := a.ProcCount(); err != nil {
			return c.errf(key+".procs", "%v", err)
		}
		for _, f := range a.Files {
			if !filepath.IsAbs(f) {
				return c.errf(key+".files", "%q: files are absolute host paths, copied to the same path in the image", f)
			}
			if err := checkImagePath(f); err != nil {
				return c.errf(key+".files", "%v", err)
			}
			if _, err := os.Lstat(f); err != nil {
				return c.errf(key+".files", "%s does not exist on this machine", f)
			}
		}
		if err := c.validateTuning(key, a); err != nil {
			return err
		}
		for k, v := range a.Env {
			if !envKeyRE.MatchString(k) {
				return c.errf(key+".env", "%q is not an environment variable name", k)
			}
			if err := noNUL(v); err != nil {
				return c.errf(key+".env", "%s: %v", k, err)
			}
		}
		if err := noNUL(a.Program); err != nil {
			return c.errf(key+".program", "%v", err)
		}
		for _, s := range a.Args {
			if err := noNUL(s); err != nil {
				return c.errf(key+".args", "%v", err)
			}
		}
		for _, k := range a.CopyEnv {
			if !envKeyRE.MatchString(k) {
				return c.errf(key+".copy_env", "%q is not an environment variable name", k)
			}
		}
	}
	return nil
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
	switch {
	case a.Program == "" && len(a.Backends) == 0:
		return c.errf(key+".program", "missing: a Go package (./dir or import path) or an executable file, or backends")
	case a.Program != "" && len(a.Backends) > 0:
		return c.errf(key+".backends", "an app has either a program (run in the image) or backends (outside it), not both")
	}
	for _, b := range a.Backends {
		kind, addr, ok := strings.Cut(b, ":")
		if !ok || addr == "" || (kind != "tcp" && kind != "unix") {
			return c.errf(key+".backends", "%q: use \"tcp:HOST:PORT\" or \"unix:/PATH\"", b)
		}
		if kind == "tcp" {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return c.errf(key+".backends", "%q: want tcp:HOST:PORT", b)
			}
		}
	}
	switch a.Mode {
	case "", "responder", "authorizer":
	default:
		return c.errf(key+".mode", "%q: use \"responder\" or \"authorizer\"", a.Mode)
	}
	if _, err := regexp.Compile(a.Host); err != nil {
		return c.errf(key+".host", "%q is not a regular expression: %v", a.Host, err)
	}
	return c.validateFastCGI(key+".fastcgi", a.FastCGI)
}
