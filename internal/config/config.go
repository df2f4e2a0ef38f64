// Package config reads appliance.toml: one schema, decoded strictly with
// go-toml/v2 and validated once, at build time. Every error names the file,
// the line and column and the key, so a user can act on it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Config is a decoded and validated appliance.toml.
type Config struct {
	// Board is what the image is for; `mkimage boards` lists them.
	// Default: "qemu-x86_64" (x86_64 VMs and VPSes).
	Board string `toml:"board"`
	// Hostname is the appliance's host name. Default: "appliance".
	Hostname string  `toml:"hostname"`
	Kernel   Kernel  `toml:"kernel"`
	Network  Network `toml:"network"`
	Web      Web     `toml:"web"`
	Apps     []App   `toml:"app"`
	// Debian lists Debian 12 (bookworm) packages for the image as a whole,
	// e.g. ["tzdata"], taken with what they depend on (not what they
	// recommend) from the mirrors this machine's apt uses, unpacked without
	// their documentation and without running their maintainer scripts. The
	// versions chosen are kept in appliance.lock beside this file, and later
	// builds take exactly those.
	Debian []string `toml:"debian"`
	// Permissions set owners and modes of paths in the image.
	Permissions []Permission `toml:"permissions"`
	// Update turns on signed system updates with a trial boot.
	Update Update `toml:"update"`

	// Path is the file the config was read from; Dir is its directory,
	// against which relative paths in the file are resolved.
	Path string `toml:"-"`
	Dir  string `toml:"-"`
	// positions of keys in the file, for validation messages.
	pos positions
}

// Kernel overrides the board's default kernel with a local file or one the
// build makes.
type Kernel struct {
	// Path is a kernel image (bzImage, vmlinux or arm64 Image).
	Path string `toml:"path"`
	// Build is "small": the build makes the small kernel from Debian's
	// linux-source (package internal/kernel/small), for the QEMU boards.
	Build string `toml:"build"`
	// Modules is the kernel's modules directory (lib/modules/VERSION);
	// optional when the kernel has its drivers built in.
	Modules string `toml:"modules"`
	// Load lists modules to load at boot, in order, by name.
	Load []string `toml:"load"`
	// Cmdline is appended to the board's kernel command line.
	Cmdline string `toml:"cmdline"`
}

// App is a FastCGI program reached under Prefix (lighttpd's fastcgi.server).
type App struct {
	// Name is the app's name (required): lower-case letters, digits, '-', '_';
	// its services are NAME.0, NAME.1... and its data /data/apps/NAME.
	// "init", "httpfront", "modload", "updated" and "root" are the tool's.
	Name string `toml:"name"`
	// Prefix is the URL path the app serves (required), e.g. "/app" or
	// "/"; the longest matching prefix wins (SCRIPT_NAME).
	Prefix string `toml:"prefix"`
	// Program is what runs in the image as the pool: a Go package (./dir relative
	// to this file, or an import path) built for the board, or an
	// executable file packed with its shared libraries (e.g.
	// "/usr/bin/php-cgi"). It gets its listening socket on fd 0.
	Program string `toml:"program"`
	// Python, instead of program, is a WSGI application "module:callable"
	// (e.g. "app:application"), served in the pool by the project's
	// FastCGI WSGI server (flup's WSGIServer) under Debian 12's python3:
	// debian lists the app's packages (python3 is added), code its own
	// modules.
	Python string `toml:"python"`
	// Code is a directory of the app's own code (relative to this file),
	// copied to /app/NAME in the image, read-only for the app, and named
	// by APP_DIR in its environment (on the Python path of a python app).
	Code string `toml:"code"`
	// Args are the program's arguments.
	Args []string `toml:"args"`
	// Env sets variables in the program's environment (lighttpd's
	// bin-environment). Default: { LANG = "C" }.
	Env map[string]string `toml:"env"`
	// CopyEnv names variables copied from init's environment
	// (bin-copy-environment).
	CopyEnv []string `toml:"copy_env"`
	// Procs is the number of pool processes, or "auto" (default): one per
	// physical core.
	Procs any `toml:"procs"`
	// CheckLocal sends a request to the app only if the file exists
	// under the web root (lighttpd's check-local). Default: false.
	CheckLocal bool `toml:"check_local"`
	// Host, when set, is a regular expression the request's host must
	// match (lighttpd's $HTTP["host"] =~ "...").
	Host string `toml:"host"`
	// Mode is "responder" (default) or "authorizer".
	Mode string `toml:"mode"`
	// Backends are FastCGI servers outside the image ("tcp:host:port" or
	// "unix:/path"); then there is no program and no pool.
	Backends []string `toml:"backends"`
	// FastCGI overrides [web.fastcgi] for this app.
	FastCGI FastCGI `toml:"fastcgi"`
	// Files are host paths the program needs at the same path in the
	// image (data files, e.g. /usr/share/zoneinfo/UTC, /etc/php/8.2).
	Files []string `toml:"files"`
	// Debian lists Debian 12 packages the app needs, with what they
	// depend on, e.g. ["python3-flask"] (see the top-level debian); with
	// them an absolute program is the file as the packages install it,
	// e.g. "/usr/bin/python3", not the host's.
	Debian []string `toml:"debian"`

	// Pool tuning (flup's minSpare/maxSpare/maxThreads and the seed's
	// thread stack size); unset means decided at boot from RAM and cores.
	StackSize      any    `toml:"stack_size"`      // "auto", "256k", "1M" or bytes
	MaxThreads     int    `toml:"max_threads"`     // per process
	MinSpare       int    `toml:"min_spare"`       // flup's minSpare idle threads
	MaxSpare       int    `toml:"max_spare"`       // flup's maxSpare idle threads
	MaxRequests    int    `toml:"max_requests"`    // recycle a process after N requests
	RequestTimeout string `toml:"request_timeout"` // a duration, e.g. "30s"; the app's own limit per request
	BaseMemory     string `toml:"base_memory"`     // per-process estimate, e.g. "16M"
}

// Load reads, decodes strictly and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates data, naming path in errors.
func Parse(path string, data []byte) (*Config, error) {
	var c Config
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, decodeError(path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving config path %s: %w", path, err)
	}
	c.Path, c.Dir = path, filepath.Dir(abs)
	c.pos = findPositions(data)
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodeError turns go-toml's errors into "file:line:col: key: message".
func decodeError(path string, err error) error {
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) {
		var lines []string
		for _, e := range sm.Errors {
			row, col := e.Position()
			lines = append(lines, fmt.Sprintf("%s:%d:%d: unknown key %q", path, row, col, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.SplitN(de.Error(), "\n", 2)[0]
		if k := de.Key(); len(k) > 0 {
			return fmt.Errorf("%s:%d:%d: %s: %s", path, row, col, strings.Join(k, "."), msg)
		}
		return fmt.Errorf("%s:%d:%d: %s", path, row, col, msg)
	}
	return fmt.Errorf("%s: %w", path, err)
}

func (c *Config) applyDefaults() {
	if c.Board == "" {
		c.Board = "qemu-x86_64"
	}
	if c.Hostname == "" {
		c.Hostname = "appliance"
	}
	if len(c.Web.Index) == 0 {
		c.Web.Index = []string{"index.html"}
	}
	c.Network.applyDefaults()
	for i := range c.Apps {
		a := &c.Apps[i]
		if a.Procs == nil {
			a.Procs = "auto"
		}
		if a.Env == nil {
			a.Env = map[string]string{}
		}
		if _, ok := a.Env["LANG"]; !ok {
			a.Env["LANG"] = "C"
		}
	}
}

// Resolve returns p relative to the config file's directory.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}
