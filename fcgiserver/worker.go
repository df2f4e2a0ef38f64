package fcgiserver

import (
	"net/http"
	"runtime"
)

// worker runs handlers. It keeps its response writer and buffers between
// requests, which is what a pre-started spare saves.
type worker struct {
	srv  *Server
	resp response
}

func newWorker(s *Server) *worker {
	w := &worker{srv: s}
	w.resp.init()
	return w
}

func (w *worker) serve(req *request) {
	w.resp.reset(req)
	if w.runHandler(req) {
		w.resp.finish()
	}
	req.body.Close()
	req.release()
	w.resp.reset(nil)
}

// runHandler calls the handler; false means it panicked after the headers
// were sent, and the connection was dropped to show the response is broken.
func (w *worker) runHandler(req *request) (ok bool) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			w.srv.logf("panic serving %s: %v\n%s", req.hr.URL, v, buf)
		}
		ok = w.resp.recoverPanic()
	}()
	w.srv.handler.ServeHTTP(&w.resp, req.hr)
	return true
}
