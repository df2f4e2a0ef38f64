package config

import (
	"errors"
	"regexp"
	"slices"
	"strings"
)

// PythonPackage is the Debian package a python app always gets: the
// interpreter its pool runs (/usr/bin/python3).
const PythonPackage = "python3"

// pythonRE is "module:callable": a dotted module path and an identifier.
var pythonRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$`)

// DebianNames is the app's debian list, with python3 for a python app.
func (a App) DebianNames() []string {
	if a.Python != "" && !slices.Contains(a.Debian, PythonPackage) {
		return append(slices.Clone(a.Debian), PythonPackage)
	}
	return a.Debian
}

// validatePython checks python and code: a WSGI app "module:callable"
// instead of a program, code a directory.
func (c *Config) validatePython(key string, a App) error {
	var errs []error
	if a.Python != "" {
		if !pythonRE.MatchString(a.Python) {
			errs = append(errs, c.errf(key+".python", "%q: want module:callable, e.g. \"app:application\" or \"shop.wsgi:app\"", a.Python))
		}
		switch {
		case a.Program != "":
			errs = append(errs, c.errf(key+".python", "an app has either a program or a python WSGI app, not both"))
		case len(a.Backends) > 0:
			errs = append(errs, c.errf(key+".python", "an app has either backends (outside the image) or a python WSGI app, not both"))
		case len(a.Args) > 0:
			errs = append(errs, c.errf(key+".args", "a python app takes no args: the pool runs the WSGI server with python = %q", a.Python))
		}
	}
	if a.Code != "" {
		if strings.ContainsRune(a.Code, 0) {
			errs = append(errs, c.errf(key+".code", "contains a NUL byte"))
		} else if err := isDir(c.Resolve(a.Code)); err != nil {
			errs = append(errs, c.errf(key+".code", "%v", err))
		}
	}
	return errors.Join(errs...)
}
