// Package httpfront is the appliance's HTTP front end (lighttpd's role): it
// serves the document root and URL aliases and routes app prefixes to
// FastCGI backends.
package httpfront

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/mkimage/mkimage/spec"
)

// New returns the front end's handler for cfg.
func New(cfg spec.Front) (http.Handler, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("front end: no document root")
	}
	f := &front{root: http.FileServer(http.Dir(cfg.Root))}
	for _, a := range cfg.Aliases {
		f.aliases = append(f.aliases, alias{prefix: a.Prefix, h: http.StripPrefix(a.Prefix, http.FileServer(http.Dir(a.Dir)))})
	}
	// Longest prefix wins.
	sort.Slice(f.aliases, func(i, j int) bool { return len(f.aliases[i].prefix) > len(f.aliases[j].prefix) })
	return f, nil
}

type alias struct {
	prefix string
	h      http.Handler
}

type front struct {
	root    http.Handler
	aliases []alias
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, a := range f.aliases {
		if hasPathPrefix(r.URL.Path, a.prefix) {
			a.h.ServeHTTP(w, r)
			return
		}
	}
	f.root.ServeHTTP(w, r)
}

// hasPathPrefix reports whether p is prefix or below it ("/images" matches
// "/images" and "/images/a.png", not "/imagesx").
func hasPathPrefix(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}
