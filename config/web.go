package config

import (
	"fmt"
	"strings"
)

// Web is the static side: lighttpd's server.document-root and alias.url.
type Web struct {
	Root    string   `toml:"root"`
	Index   []string `toml:"index"`
	Aliases []Alias  `toml:"alias"`
}

// Alias serves Dir under the URL prefix Prefix.
type Alias struct {
	Prefix string `toml:"prefix"`
	Dir    string `toml:"dir"`
}

func (c *Config) validateWeb() error {
	if c.Web.Root == "" {
		return c.errf("web.root", "missing: the directory of static files to serve (lighttpd's server.document-root)")
	}
	if err := isDir(c.Resolve(c.Web.Root)); err != nil {
		return c.errf("web.root", "%v", err)
	}
	for _, ix := range c.Web.Index {
		if ix == "" || strings.ContainsAny(ix, "/\\") {
			return c.errf("web.index", "%q is not a file name", ix)
		}
	}
	seen := map[string]bool{}
	for i, a := range c.Web.Aliases {
		key := fmt.Sprintf("web.alias.%d", i)
		if err := checkPrefix(a.Prefix); err != nil || a.Prefix == "/" {
			return c.errf(key+".prefix", "%q: an alias needs a prefix like /images", a.Prefix)
		}
		if seen[a.Prefix] {
			return c.errf(key+".prefix", "prefix %s is aliased twice", a.Prefix)
		}
		seen[a.Prefix] = true
		if err := isDir(c.Resolve(a.Dir)); err != nil {
			return c.errf(key+".dir", "%v", err)
		}
	}
	return nil
}
