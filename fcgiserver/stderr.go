package fcgiserver

import (
	"io"
	"net/http"
	"os"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// Stderr returns a writer that sends FCGI_STDERR records for r, which the
// web server writes to its error log. For a request not served by
// fcgiserver it returns os.Stderr. Writes after the request ended fail
// with ErrFinished.
func Stderr(r *http.Request) io.Writer {
	if req := requestOf(r); req != nil {
		return stderrWriter{req}
	}
	return os.Stderr
}

type stderrWriter struct{ req *request }

func (w stderrWriter) Write(p []byte) (int, error) {
	req, c := w.req, w.req.c
	out := record.AppendStream(make([]byte, 0, len(p)+16), record.TypeStderr, req.id, p)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if req.finished.Load() {
		return 0, ErrFinished
	}
	req.stderrUsed = true
	if err := c.write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
