package httpfront

import (
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/mkimage/mkimage/httpfront/fcgiclient"
)

// sendfileDirs are the directories an app may name in X-Sendfile. Each is
// opened as an os.Root, so a symlink inside cannot lead out of it.
type sendfileDirs struct {
	dirs  []string
	roots []*os.Root
}

func newSendfileDirs(dirs []string) (*sendfileDirs, error) {
	s := &sendfileDirs{}
	for _, d := range dirs {
		if !path.IsAbs(d) {
			return nil, fmt.Errorf("x_sendfile directory %q is not absolute", d)
		}
		root, err := os.OpenRoot(d)
		if err != nil {
			return nil, fmt.Errorf("x_sendfile directory: %w", err)
		}
		s.dirs = append(s.dirs, path.Clean(d))
		s.roots = append(s.roots, root)
	}
	return s, nil
}

// sendfileHeaders are the response headers that ask for X-Sendfile.
var sendfileHeaders = []string{"X-Sendfile", "X-Lighttpd-Send-File"}

// serve handles an X-Sendfile response: it reports false when there is
// none. A path outside the configured directories gets 403 (and a log
// line); with no directories configured the header is refused the same way.
func (s *sendfileDirs) serve(w http.ResponseWriter, r *http.Request, resp *fcgiclient.Response, logf func(string, ...any)) bool {
	var target string
	for _, h := range sendfileHeaders {
		if v := resp.Header.Get(h); v != "" {
			target = v
		}
		resp.Header.Del(h)
	}
	if target == "" {
		return false
	}
	f, err := s.open(target)
	if err != nil {
		logf("httpfront: X-Sendfile from %s: %v", resp.Backend, err)
		http.Error(w, "403 forbidden", http.StatusForbidden)
		return true
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return true
	}
	copyAppHeader(w.Header(), resp.Header)
	w.Header().Del("Content-Length")
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentType(target))
	}
	http.ServeContent(w, r, "", st.ModTime(), f)
	return true
}

// open opens target if it lies in one of the directories.
func (s *sendfileDirs) open(target string) (*os.File, error) {
	if !path.IsAbs(target) || strings.ContainsAny(target, "\x00\\") {
		return nil, fmt.Errorf("%q is not an absolute path", target)
	}
	clean := path.Clean(target)
	for i, d := range s.dirs {
		if hasPathPrefix(clean, d) && clean != d {
			f, err := s.roots[i].Open(strings.TrimPrefix(clean[len(d):], "/"))
			if err != nil {
				return nil, fmt.Errorf("opening %s: %w", clean, err)
			}
			return f, nil
		}
	}
	return nil, fmt.Errorf("%s is outside the X-Sendfile directories", clean)
}

func (s *sendfileDirs) close() {
	for _, r := range s.roots {
		r.Close()
	}
}
