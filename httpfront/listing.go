package httpfront

import (
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxListing bounds the entries of one directory listing.
const maxListing = 10000

// list writes an HTML listing of the directory name (hidden entries left
// out), when listings are enabled.
func (d *staticDir) list(w http.ResponseWriter, r *http.Request, urlPath, name string) {
	dir, err := d.cache.open(name)
	if err != nil {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	defer dir.Close()
	ents, err := dir.ReadDir(maxListing)
	if err != nil && len(ents) == 0 {
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	var b strings.Builder
	title := html.EscapeString(urlPath)
	fmt.Fprintf(&b, "<!doctype html>\n<title>Index of %s</title>\n<h1>Index of %s</h1>\n<ul>\n", title, title)
	if urlPath != "/" {
		b.WriteString("<li><a href=\"../\">../</a></li>\n")
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		if e.IsDir() {
			n += "/"
		}
		href := (&url.URL{Path: n}).EscapedPath()
		if strings.Contains(n, ":") {
			href = "./" + href
		}
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(href), html.EscapeString(n))
	}
	b.WriteString("</ul>\n")
	_, _ = w.Write([]byte(b.String()))
}
