package httpfront

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// staticConfig is what all static directories of a front end share.
type staticConfig struct {
	index        []string
	listing      bool
	rules        []spec.CacheRule
	writeTimeout time.Duration
	logf         func(format string, args ...any)
}

// staticDir serves one directory (the document root or an alias) under a
// URL prefix.
type staticDir struct {
	prefix string // stripped from the URL path; "" for the root
	cache  *dirCache
	cfg    *staticConfig
}

// What a URL path resolves to.
type kind int

const (
	kindMissing  kind = iota
	kindFile          // a regular file (possibly a directory's index)
	kindRedirect      // a directory named without its trailing slash
	kindDir           // a directory without an index file
)

type found struct {
	kind kind
	name string // file system name under the directory
	e    *entry
}

// resolve maps a clean URL path below d's prefix to what is on disk.
func (d *staticDir) resolve(urlPath string) found { return d.resolveAt(urlPath, time.Now().UnixNano()) }

// resolveAt is resolve at the time now (unix nanoseconds).
func (d *staticDir) resolveAt(urlPath string, now int64) found {
	rel := strings.TrimPrefix(urlPath, d.prefix)
	name := strings.Trim(rel, "/")
	if name == "" {
		name = "."
	}
	e := d.cache.lookupAt(name, now)
	switch {
	case e.missing:
		return found{kind: kindMissing}
	case !e.isDir:
		if strings.HasSuffix(rel, "/") {
			return found{kind: kindMissing} // "file.txt/" is no directory
		}
		return found{kind: kindFile, name: name, e: e}
	case !strings.HasSuffix(rel, "/") && rel != "":
		return found{kind: kindRedirect, name: name, e: e}
	}
	for _, ix := range d.cfg.index {
		n := ix
		if name != "." {
			n = name + "/" + ix
		}
		if ie := d.cache.lookupAt(n, now); !ie.missing && !ie.isDir {
			return found{kind: kindFile, name: n, e: ie}
		}
	}
	return found{kind: kindDir, name: name, e: e}
}

// maxScriptDepth bounds the directories check_local walks through to find
// a script (scriptPrefix).
const maxScriptDepth = 64

// scriptPrefix returns the end of the shortest prefix of p that is longer
// than from, ends before a '/' and names a regular file (check_local's
// script). It walks one path component at a time and stops at the first
// that is missing or not a directory, and after maxScriptDepth
// directories: one request costs at most that many lookups, each of a
// path that exists up to its last component.
func (d *staticDir) scriptPrefix(p string, from int) (int, bool) {
	depth := 0
	for i := from + 1; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		if depth++; depth > maxScriptDepth {
			return 0, false
		}
		switch fd := d.resolve(p[:i]); {
		case fd.kind == kindFile && path.Base(fd.name) == path.Base(p[:i]):
			return i, true
		case fd.kind != kindRedirect: // missing, or no directory to go on into
			return 0, false
		}
	}
	return 0, false
}

// serve answers r with what resolve found.
func (d *staticDir) serve(w http.ResponseWriter, r *http.Request, urlPath string, f found) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch f.kind {
	case kindMissing:
		http.Error(w, "404 page not found", http.StatusNotFound)
	case kindRedirect:
		target := urlPath + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusMovedPermanently)
	case kindDir:
		if !d.cfg.listing {
			http.Error(w, "403 forbidden", http.StatusForbidden)
			return
		}
		d.list(w, r, urlPath, f.name)
	default:
		d.serveFile(w, r, urlPath, f.name, f.e)
	}
}

// serveFile sends a regular file, or its best precompressed sidecar.
func (d *staticDir) serveFile(w http.ResponseWriter, r *http.Request, urlPath, name string, e *entry) {
	if e.resp != nil && !e.hasVar {
		if pw, ok := w.(preparedWriter); ok {
			if _, ok := pw.writePrepared(e.resp, d.cfg.cacheControl(urlPath), e.data); ok {
				return
			}
		}
	}
	h := w.Header()
	if e.hasVar {
		h["Vary"] = varyAcceptEncoding
		if i := pickEncoding(r.Header["Accept-Encoding"], func(i int) bool { return e.variants[i] != nil }); i >= 0 {
			h["Content-Encoding"] = []string{sidecarEncodings[i].token}
			name, e = name+sidecarEncodings[i].ext, e.variants[i]
		}
	}
	if cc := d.cfg.cacheControl(urlPath); cc != "" {
		h["Cache-Control"] = []string{cc}
	}
	tag, err := d.cache.etagOf(name, e)
	if err != nil {
		d.cfg.logf("httpfront: %s: %v", urlPath, err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	h["Etag"] = tag.h
	h["Last-Modified"] = e.hLastMod
	if st := precondition(r, tag.etag, e.modTime); st != 0 {
		w.WriteHeader(st)
		return
	}
	h["Content-Type"] = e.hType
	h["Accept-Ranges"] = acceptRangesBytes
	start, n := int64(0), e.size
	if rh := firstValue(r.Header, "Range"); rh != "" && ifRangeAllows(r, tag.etag, e.modTime) {
		ranges, ok := parseRange(rh, e.size)
		switch {
		case ok && len(ranges) == 0:
			h["Content-Range"] = []string{"bytes */" + strconv.FormatInt(e.size, 10)}
			http.Error(w, "416 range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
			return
		case ok && len(ranges) > 1:
			d.serveMulti(w, r, name, e)
			return
		case ok:
			start, n = ranges[0].start, ranges[0].length
			h["Content-Range"] = []string{fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, e.size)}
		}
	}
	if n == e.size {
		h["Content-Length"] = e.hLength
		w.WriteHeader(http.StatusOK)
	} else {
		h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
		w.WriteHeader(http.StatusPartialContent)
	}
	if r.Method == http.MethodHead || n == 0 {
		return
	}
	if err := d.sendBody(w, name, e, start, n); err != nil {
		d.cfg.logf("httpfront: sending %s: %v", urlPath, err)
	}
}

// preparedWriter is a ResponseWriter that sends a whole-file 200 answer
// from the entry's prepared header (entry.resp) and its bytes, adding
// Cache-Control (cc, when not empty), Connection and Date itself: what
// serveFile would send, without building the header per request. ok is
// false when it cannot (nothing was written): among others for a request
// with a condition (If-*) or a Range, which the writer knows from its
// parser (fastHead.cond); n counts the body bytes sent (none for HEAD).
type preparedWriter interface {
	writePrepared(resp []byte, cc string, body []byte) (n int64, ok bool)
}

var (
	varyAcceptEncoding = []string{"Accept-Encoding"}
	acceptRangesBytes  = []string{"bytes"}
)

// sendBody writes n bytes of the file from start: from memory for small
// files, with sendfile in chunks (each under a fresh write deadline) for the
// others.
func (d *staticDir) sendBody(w http.ResponseWriter, name string, e *entry, start, n int64) error {
	if e.data != nil {
		_, err := w.Write(e.data[start : start+n])
		return err
	}
	sf, err := d.cache.acquireFile(name, e)
	if err != nil {
		return err
	}
	defer sf.release()
	if fs, ok := w.(fileSender); ok {
		err := sendFileWithDeadline(w, fs, sf.fd, start, n, d.cfg.writeTimeout)
		if !errors.Is(err, errNoSendFile) {
			return err
		}
	}
	// net/http's writer sends from the file's own offset: use a private
	// descriptor.
	f, err := d.cache.openEntry(name, e)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("seeking: %w", err)
	}
	return copyWithDeadline(w, f, n, d.cfg.writeTimeout)
}

// sendFileWithDeadline is copyWithDeadline for a fileSender; errNoSendFile
// (with nothing sent) when the connection cannot sendfile.
func sendFileWithDeadline(w http.ResponseWriter, fs fileSender, fd int, start, n int64, timeout time.Duration) error {
	err := inChunks(w, n, timeout, func(off, c int64) (int64, error) { return fs.SendFile(fd, start+off, c) })
	if err != nil && !errors.Is(err, errNoSendFile) { // errNoSendFile: only ever on the first call
		return fmt.Errorf("sending file: %w", err)
	}
	return err
}

// copyWithDeadline copies n bytes of f to w in chunks, each under a fresh
// write deadline (inChunks).
func copyWithDeadline(w http.ResponseWriter, f *os.File, n int64, timeout time.Duration) error {
	err := inChunks(w, n, timeout, func(_, c int64) (int64, error) { return io.CopyN(w, f, c) })
	if err != nil {
		return fmt.Errorf("copying file: %w", err)
	}
	return nil
}

// inChunks sends n bytes with send(offset, length) in chunks, extending
// the write deadline before every chunk, so a slow client gets time while
// a stuck one is cut.
func inChunks(w http.ResponseWriter, n int64, timeout time.Duration, send func(off, n int64) (int64, error)) error {
	rc := http.NewResponseController(w)
	const chunk = 4 << 20
	for off := int64(0); off < n; {
		if timeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(timeout))
		}
		c, err := send(off, min(n-off, chunk))
		off += c
		if err != nil {
			return err
		}
	}
	return nil
}

// serveMulti answers a multi-range request with the standard library's
// multipart/byteranges writer.
func (d *staticDir) serveMulti(w http.ResponseWriter, r *http.Request, name string, e *entry) {
	var content io.ReadSeeker
	if e.data != nil {
		content = bytes.NewReader(e.data)
	} else {
		f, err := d.cache.openEntry(name, e)
		if err != nil {
			http.Error(w, "500 internal server error", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		content = f
	}
	http.ServeContent(w, r, "", e.modTime, content)
}

// cacheControl returns the Cache-Control value of the first matching rule.
func (c *staticConfig) cacheControl(urlPath string) string {
	for _, rule := range c.rules {
		if !hasPathPrefix(urlPath, rule.Prefix) {
			continue
		}
		if len(rule.Ext) == 0 {
			return rule.Value
		}
		for _, ext := range rule.Ext {
			if strings.HasSuffix(urlPath, ext) {
				return rule.Value
			}
		}
	}
	return ""
}
