package config

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Permission sets the owner and mode of a path in the image and of
// everything under it (lighttpd deployments did this with chown/chmod
// after installing). The image's own secrets get safe defaults without it:
// tls_dir is readable only by the front end's user.
type Permission struct {
	// Path is a file or directory in the image, e.g. "/etc/shop".
	Path string `toml:"path"`
	// Owner is "root" (the default), "httpfront" (the front end's user)
	// or the name of an app (its pool's user).
	Owner string `toml:"owner"`
	// Mode is an octal file mode like "0640"; directories get x where they
	// get r. Empty keeps the mode the image gives (0644 or 0755).
	Mode string `toml:"mode"`
}

// toolPaths are what the tool itself puts in every image: no app, file or
// permission may replace or loosen them.
var toolPaths = []string{"/init", "/bin/httpfront", "/bin/modload", "/bin/updated", "/etc/mkimage"}

// mountPoints are filesystems init mounts at boot: what the image holds
// there is hidden, so a file copied there is a mistake.
var mountPoints = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/data"}

// reservedNames are names an app may not take: its program would land at
// /bin/NAME over one of the tool's, or its services would be confused
// with the tool's on the status page.
var reservedNames = map[string]bool{"init": true, "httpfront": true, "modload": true, "updated": true, "root": true}

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// ParseMode reads an octal mode like "0640".
func ParseMode(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o1777 {
		return 0, fmt.Errorf("%q: want an octal mode like \"0640\" (no setuid or setgid bits)", s)
	}
	return uint32(n), nil
}

func (c *Config) validatePermissions() error {
	var errs []error
	apps := map[string]bool{}
	for _, a := range c.Apps {
		if a.Program != "" || a.Python != "" {
			apps[a.Name] = true
		}
	}
	for i, p := range c.Permissions {
		key := fmt.Sprintf("permissions.%d", i)
		if !path.IsAbs(p.Path) || path.Clean(p.Path) != p.Path || p.Path == "/" {
			errs = append(errs, c.errf(key+".path", "%q: a clean absolute path in the image, like /etc/shop", p.Path))
		}
		for _, t := range toolPaths {
			if under(p.Path, t) || under(t, p.Path) {
				errs = append(errs, c.errf(key+".path", "%s holds the tool's own %s: its permissions are fixed", p.Path, t))
			}
		}
		switch {
		case p.Owner == "" || p.Owner == "root" || p.Owner == "httpfront" || apps[p.Owner]:
		default:
			errs = append(errs, c.errf(key+".owner", "%q: use \"root\", \"httpfront\" or the name of an app with a program", p.Owner))
		}
		if p.Mode != "" {
			if _, err := ParseMode(p.Mode); err != nil {
				errs = append(errs, c.errf(key+".mode", "%v", err))
			}
		}
		if p.Owner == "" && p.Mode == "" {
			errs = append(errs, c.errf(key, "set owner, mode or both"))
		}
	}
	return errors.Join(errs...)
}

// checkImagePath refuses a host path copied into the image (an app's files)
// where the tool's own files or a boot-time mount live.
func checkImagePath(p string) error {
	clean := path.Clean(p)
	if clean == "/" {
		return fmt.Errorf("%q: the whole host tree cannot go into the image", p)
	}
	for _, t := range toolPaths {
		if under(clean, t) || under(t, clean) {
			return fmt.Errorf("%q would replace the tool's own %s", p, t)
		}
	}
	for _, m := range mountPoints {
		if under(clean, m) {
			return fmt.Errorf("%q is under %s, which init mounts over at boot", p, m)
		}
	}
	return nil
}

// noNUL rejects a string that cannot cross into the guest: the kernel's exec
// and environment are NUL-terminated.
func noNUL(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%q contains a NUL byte", s)
	}
	return nil
}
