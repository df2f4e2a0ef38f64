package httpfront

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/httpfront/fcgiclient"
	"github.com/mkimage/mkimage/spec"
)

// appRoute sends one URL prefix to a FastCGI pool.
type appRoute struct {
	name       string
	prefix     string
	host       *regexp.Regexp
	checkLocal bool
	authorizer bool
	env        []record.Pair
	pool       *fcgiclient.Pool
	timeout    time.Duration
	sendfile   *sendfileDirs
	front      *Front
	docRoot    string
	logf       func(format string, args ...any)
}

func newAppRoute(a spec.App, cfg spec.Front, f *Front, opt Options) (*appRoute, error) {
	fc := mergeFastCGI(cfg.FastCGI, a.FastCGI)
	ar := &appRoute{
		name: a.Name, prefix: a.Prefix, checkLocal: a.CheckLocal, front: f,
		docRoot: strings.TrimSuffix(cfg.Root, "/"), logf: opt.Logf,
		timeout: ms(fc.ResponseTimeoutMS, 60*time.Second),
	}
	switch a.Mode {
	case "", "responder":
	case "authorizer":
		ar.authorizer = true
	default:
		return nil, fmt.Errorf("mode %q: want responder or authorizer", a.Mode)
	}
	var err error
	if ar.host, err = hostRE(a.Host); err != nil {
		return nil, err
	}
	for _, kv := range a.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("env %q: want NAME=value", kv)
		}
		ar.env = append(ar.env, record.Pair{Name: k, Value: v})
	}
	if ar.sendfile, err = newSendfileDirs(fc.XSendfile); err != nil {
		return nil, err
	}
	ar.pool, err = fcgiclient.NewPool(a.Backends, fcgiclient.Options{
		ConnectTimeout: ms(fc.ConnectTimeoutMS, 2*time.Second),
		DownTime:       ms(fc.DownTimeMS, time.Second),
		KeepConn:       fc.KeepConn == "on",
		AutoKeepConn:   fc.KeepConn == "",
		MaxHeaderBytes: fc.MaxHeaderBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("backends: %w", err)
	}
	return ar, nil
}

// mergeFastCGI returns the app's settings with the front end's defaults
// filled in.
func mergeFastCGI(def, app spec.FastCGI) spec.FastCGI {
	if app.ConnectTimeoutMS == 0 {
		app.ConnectTimeoutMS = def.ConnectTimeoutMS
	}
	if app.ResponseTimeoutMS == 0 {
		app.ResponseTimeoutMS = def.ResponseTimeoutMS
	}
	if app.DownTimeMS == 0 {
		app.DownTimeMS = def.DownTimeMS
	}
	if app.KeepConn == "" {
		app.KeepConn = def.KeepConn
	}
	if app.XSendfile == nil {
		app.XSendfile = def.XSendfile
	}
	if app.MaxHeaderBytes == 0 {
		app.MaxHeaderBytes = def.MaxHeaderBytes
	}
	return app
}

// serve handles a request routed to the app.
func (a *appRoute) serve(w http.ResponseWriter, r *http.Request, p string) {
	root := a.front.root
	var c cgiRequest
	switch {
	case a.checkLocal:
		script, info, ok := a.localScript(p)
		if !ok {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		c.scriptName, c.pathInfo = script, info
		c.scriptFile = a.docRoot + script
	case a.prefix == "/":
		if fd := root.resolve(p); fd.kind == kindFile || fd.kind == kindRedirect {
			root.serve(w, r, p, fd) // existing static files win
			return
		}
		c.scriptName, c.pathInfo, c.scriptFile = "", p, a.docRoot+p
	default:
		c.scriptName, c.pathInfo = a.prefix, p[len(a.prefix):]
		c.scriptFile = a.docRoot + a.prefix
	}
	c.docRoot = a.docRoot
	if a.authorizer {
		a.authorize(w, r, p, c)
		return
	}
	a.respond(w, r, c)
}

// localScript finds the shortest path prefix of p (below the app prefix)
// that is a regular file under the document root, or the index file of
// the directory p names.
func (a *appRoute) localScript(p string) (script, info string, ok bool) {
	root := a.front.root
	if fd := root.resolve(p); fd.kind == kindFile {
		return "/" + strings.TrimPrefix(fd.name, "./"), "", true
	}
	if i, ok := root.scriptPrefix(p, len(a.prefix)); ok {
		return p[:i], p[i:], true
	}
	return "", "", false
}

// respond forwards the request and copies the app's response.
func (a *appRoute) respond(w http.ResponseWriter, r *http.Request, c cgiRequest) {
	body, err := a.front.limits.prepareBody(w, r)
	if err != nil {
		a.bodyError(w, err)
		return
	}
	defer body.cleanup()
	c.length, c.hasBody = body.length, body.r != nil || r.Method == http.MethodPost || r.Method == http.MethodPut
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex()
	req := &fcgiclient.Request{
		Params: cgiParams(r, c, a.env), Body: body.r, Timeout: a.timeout,
		Stderr: a.stderr, Idempotent: idempotent(r.Method),
		AbortBody: func() { _ = rc.SetReadDeadline(time.Now()) },
	}
	resp, err := a.pool.Do(r.Context(), req)
	if err != nil {
		a.backendError(w, err)
		return
	}
	defer resp.Close()
	if a.sendfile.serve(w, r, resp, a.logf) {
		return
	}
	copyAppHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.Status)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := resp.WriteBody(w, func() { _ = rc.Flush() }); err != nil {
		a.logf("httpfront: app %s: %v", a.name, err)
		panic(http.ErrAbortHandler) // the client must see a truncated response
	}
}

// copyAppHeader copies the app's header, without hop-by-hop fields.
func copyAppHeader(dst, src http.Header) {
	for k, v := range src {
		switch k {
		case "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Te", "Trailer":
			continue
		}
		dst[k] = v
	}
}

func (a *appRoute) bodyError(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &mbe):
		http.Error(w, "413 request entity too large", http.StatusRequestEntityTooLarge)
	case errors.Is(err, errSpoolTooBig):
		http.Error(w, "413 request entity too large: a body of unknown length this large cannot be spooled; send Content-Length",
			http.StatusRequestEntityTooLarge)
	case errors.Is(err, errSpoolBusy):
		w.Header().Set("Retry-After", "5")
		http.Error(w, "503 service unavailable: too many uploads of unknown length at once, retry later", http.StatusServiceUnavailable)
	case errors.Is(err, errSpoolStorage):
		a.logf("httpfront: app %s: %v", a.name, err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "503 service unavailable: the request body could not be stored", http.StatusServiceUnavailable)
	default:
		a.logf("httpfront: app %s: %v", a.name, err)
		http.Error(w, "400 bad request", http.StatusBadRequest)
	}
}

func (a *appRoute) backendError(w http.ResponseWriter, err error) {
	a.logf("httpfront: app %s: %v", a.name, err)
	switch {
	case errors.Is(err, fcgiclient.ErrNoBackend), errors.Is(err, fcgiclient.ErrOverloaded):
		http.Error(w, "503 service unavailable", http.StatusServiceUnavailable)
	case fcgiclient.IsTimeout(err):
		http.Error(w, "504 gateway timeout", http.StatusGatewayTimeout)
	default:
		http.Error(w, "502 bad gateway", http.StatusBadGateway)
	}
}

func (a *appRoute) stderr(backend string, msg []byte) {
	for line := range strings.SplitSeq(strings.TrimRight(string(msg), "\n"), "\n") {
		a.logf("app %s [%s]: %s", a.name, backend, line)
	}
}

// authorize asks the app (FastCGI authorizer role) whether the request may
// proceed; on 200 the file is served from the document root, otherwise the
// app's answer goes to the client.
func (a *appRoute) authorize(w http.ResponseWriter, r *http.Request, p string, c cgiRequest) {
	req := &fcgiclient.Request{Role: record.RoleAuthorizer, Params: cgiParams(r, c, a.env), Timeout: a.timeout, Stderr: a.stderr}
	resp, err := a.pool.Do(r.Context(), req)
	if err != nil {
		a.backendError(w, err)
		return
	}
	defer resp.Close()
	if resp.Status == http.StatusOK {
		root := a.front.root
		root.serve(w, r, p, root.resolve(p))
		return
	}
	copyAppHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.Status)
	_, _ = resp.WriteBody(w, nil)
}

// idempotent reports whether a request with this method may be repeated
// (RFC 9110 section 9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
