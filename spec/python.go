package spec

// Python WSGI apps: the server the pool runs, under Debian's python3, and
// where an app's own code goes.
const (
	// PythonPath is the interpreter a python app's pool runs.
	PythonPath = "/usr/bin/python3"
	// WSGIServerPath is mkimage_wsgi.py, the FastCGI WSGI server.
	WSGIServerPath = "/usr/lib/mkimage/mkimage_wsgi.py"
	// AppCodeRoot holds each app's code directory ([[app]] code), as
	// AppCodeRoot/NAME, named by APP_DIR in the app's environment.
	AppCodeRoot = "/app"
)

// AppCodeDir is an app's code directory in the image.
func AppCodeDir(name string) string { return AppCodeRoot + "/" + name }
