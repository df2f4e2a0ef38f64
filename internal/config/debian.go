package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/mkimage/mkimage/board"
)

// debianNameRE is Debian's package name syntax (Policy 5.6.7): lower-case
// letters, digits, '+', '-' and '.', at least two, starting alphanumeric.
var debianNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// debianArches are the board architectures Debian packages come for.
var debianArches = []string{"amd64", "arm64"}

// DebianPackages returns every Debian package the image takes: the
// top-level ones, then each app's, each once.
func (c *Config) DebianPackages() []string {
	var out []string
	lists := [][]string{c.Debian}
	for _, a := range c.Apps {
		lists = append(lists, a.DebianNames())
	}
	for _, l := range lists {
		for _, p := range l {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func (c *Config) validateDebian() error {
	var errs []error
	check := func(key string, names []string) {
		seen := map[string]bool{}
		for _, n := range names {
			if !debianNameRE.MatchString(n) {
				errs = append(errs, c.errf(key, "%q is not a Debian package name (lower-case letters, digits, '+', '-', '.'; no version or architecture)", n))
			} else if seen[n] {
				errs = append(errs, c.errf(key, "%s is listed twice", n))
			}
			seen[n] = true
		}
	}
	check("debian", c.Debian)
	for i, a := range c.Apps {
		check(fmt.Sprintf("app.%d.debian", i), a.Debian)
	}
	if len(c.DebianPackages()) > 0 {
		if b, err := board.Lookup(c.Board); err == nil && !slices.Contains(debianArches, b.GOARCH) {
			errs = append(errs, c.errf("debian", "board %s is %s: Debian packages are taken for %v boards", c.Board, b.GOARCH, debianArches))
		}
	}
	return errors.Join(errs...)
}
