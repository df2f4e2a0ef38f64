// Package python holds mkimage_wsgi.py, the project's FastCGI server for
// Python WSGI applications (flup's WSGIServer for the seed's TurboGears2
// app), and the Go tests that drive it: started the way init starts a pool
// member (its listening socket as fd 0), spoken to with the record layer
// and the front end's FastCGI client, and put behind lighttpd, nginx and
// httpfront.
package python

import _ "embed"

// Server is mkimage_wsgi.py: the build puts it into images with a python
// app, at spec.WSGIServerPath.
//
//go:embed mkimage_wsgi.py
var Server []byte
