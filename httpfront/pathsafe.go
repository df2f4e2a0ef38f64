package httpfront

import (
	"net/http"
	"os"
	"strings"
	"unicode/utf8"
)

// cleanPath checks the request's URL path and returns it without empty
// segments ("//"), keeping a trailing slash. It refuses, with the status to
// answer, everything that could reach outside a directory or be read
// differently by another program: dot segments, encoded slashes and
// backslashes, NUL and other control bytes, backslashes and invalid or
// overlong UTF-8. Hidden files (a segment starting with '.', except
// /.well-known) give 404.
func cleanPath(r *http.Request) (string, int) {
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		return "", http.StatusBadRequest
	}
	if raw := r.URL.RawPath; raw != "" && hasEncodedSeparator(raw) {
		return "", http.StatusBadRequest
	}
	if !utf8.ValidString(p) {
		return "", http.StatusBadRequest
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", http.StatusBadRequest
		}
	}
	if simplePath(p) {
		return p, 0
	}
	return cleanSegments(p)
}

// simplePath reports whether p needs no segment work: no "//" and no
// segment starting with '.'. It is the fast path of nearly every request.
func simplePath(p string) bool {
	for i := 0; i < len(p)-1; i++ {
		if p[i] == '/' && (p[i+1] == '/' || p[i+1] == '.') {
			return false
		}
	}
	return true
}

func cleanSegments(p string) (string, int) {
	var b strings.Builder
	b.Grow(len(p))
	hidden := false
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch {
		case seg == "":
			continue
		case seg == "." || seg == "..":
			return "", http.StatusBadRequest
		case seg[0] == '.' && !(b.Len() == 0 && seg == ".well-known"):
			hidden = true
		}
		b.WriteByte('/')
		b.WriteString(seg)
	}
	if b.Len() == 0 || strings.HasSuffix(p, "/") {
		b.WriteByte('/')
	}
	if hidden {
		return "", http.StatusNotFound
	}
	return b.String(), 0
}

// hasEncodedSeparator reports whether raw holds %2F, %5C or %00, which
// decode to a path separator or a NUL that the client did not write as one.
func hasEncodedSeparator(raw string) bool {
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		switch strings.ToLower(raw[i+1 : i+3]) {
		case "2f", "5c", "00":
			return true
		}
	}
	return false
}

// hasPathPrefix reports whether p is prefix or below it ("/images" matches
// "/images" and "/images/a.png", not "/imagesx"); every path is below "/".
func hasPathPrefix(p, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return strings.HasPrefix(p, prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/')
}

// hiddenTarget reports whether the file f, opened under the root, is a
// hidden file or lies in a hidden directory once symlinks are resolved
// (a link inside the root to .env or .git/): the request's own path was
// checked by cleanPath, what it leads to is checked here. A descriptor
// whose path cannot be read is taken as hidden.
func (c *dirCache) hiddenTarget(f *os.File) bool {
	p, err := fdPath(f)
	if err != nil {
		return true
	}
	return hiddenBelow(p, c.rootPath)
}

// hiddenBelow reports whether p, a path at or below root, has a segment
// below root that starts with '.' (other than a first ".well-known"), or
// is not below root at all.
func hiddenBelow(p, root string) bool {
	rel, ok := strings.CutPrefix(p, root)
	switch {
	case !ok:
		return true
	case rel == "":
		return false
	case root != "/" && rel[0] != '/':
		return true // "/srv/www2" is not below "/srv/www"
	}
	for i, seg := range strings.Split(strings.TrimPrefix(rel, "/"), "/") {
		if strings.HasPrefix(seg, ".") && !(i == 0 && seg == ".well-known") {
			return true
		}
	}
	return false
}
