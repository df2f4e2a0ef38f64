package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mkimage/mkimage/fcgiserver"
)

// app is the example application.
type app struct {
	srv *fcgiserver.Server // nil when served by net/http/fcgi
	cfg fcgiserver.Config
	log *log.Logger
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.route(w, r, route(r))
}

// serveNetHTTP is the handler under net/http/fcgi, which has no cheap
// access to PATH_INFO: /hello is matched on the URL alone.
func (a *app) serveNetHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/hello") {
		hello(w, r)
		return
	}
	env := fcgi.ProcessEnv(r)
	path, ok := env["PATH_INFO"]
	if _, hasScript := env["SCRIPT_NAME"]; !ok && !hasScript {
		path = r.URL.Path
	}
	a.route(w, r, path)
}

// route returns the path inside the application: PATH_INFO, or the URL
// path when the web server sent neither SCRIPT_NAME nor PATH_INFO.
func route(r *http.Request) string {
	var script, info bool
	var path string
	for _, p := range fcgiserver.Params(r) {
		switch p.Name {
		case "SCRIPT_NAME":
			script = true
		case "PATH_INFO":
			info, path = true, p.Value
		}
	}
	if !script && !info {
		return r.URL.Path
	}
	return path
}

func (a *app) route(w http.ResponseWriter, r *http.Request, path string) {
	switch path {
	case "", "/":
		a.status(w, r)
	case "/echo":
		a.echo(w, r)
	case "/hello":
		hello(w, r)
	case "/big":
		a.big(w, r)
	case "/slow":
		a.slow(w, r)
	case "/crash":
		a.crash(w, r)
	default:
		http.NotFound(w, r)
	}
}

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "hello\n")
}

// echo shows a form on GET and echoes what was posted.
func (a *app) echo(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		renderEcho(w, nil)
	case http.MethodPost:
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data" {
			a.echoBytes(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<20)
		if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
			http.Error(w, "reading the form: "+err.Error(), http.StatusBadRequest)
			return
		}
		renderEcho(w, r.PostForm)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// echoBytes answers a non-form POST with its length and digest.
func (a *app) echoBytes(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "received %d bytes sha256=%x\n", n, h.Sum(nil))
}

// big streams n bytes of a repeating pattern.
func (a *app) big(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
	if err != nil || n < 0 {
		http.Error(w, "want ?n=BYTES", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	chunk := []byte(strings.Repeat("0123456789abcdef", 2048)) // 32 KiB
	for sent := int64(0); sent < n; {
		m, err := w.Write(chunk[:min(int64(len(chunk)), n-sent)])
		sent += int64(m)
		if err != nil || r.Context().Err() != nil {
			a.logCancelled(r, fmt.Sprintf("/big after %d of %d bytes", sent, n))
			return
		}
	}
}

// logCancelled logs why a request stopped early. It waits briefly for the
// context: a failed write must also have cancelled the request's context.
func (a *app) logCancelled(r *http.Request, what string) {
	select {
	case <-r.Context().Done():
		a.log.Printf("%s: cancelled, context done: %v", what, context.Cause(r.Context()))
	case <-time.After(2 * time.Second):
		a.log.Printf("%s: write failed but the context was not cancelled", what)
	}
}

// slow waits ms milliseconds unless the request is cancelled first.
func (a *app) slow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		http.Error(w, "want ?ms=MILLISECONDS", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "slow: waiting %d ms\n", ms)
	http.NewResponseController(w).Flush()
	start := time.Now()
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		fmt.Fprintln(w, "slow: done")
	case <-r.Context().Done():
		a.logCancelled(r, fmt.Sprintf("/slow after %v", time.Since(start).Round(time.Millisecond)))
	}
}

// crash makes this process exit with status 3 right after answering, so
// tests can watch the init service restart a pool member. It exists only
// when the app runs with FCGIAPP_CRASH_PAGE=1.
func (a *app) crash(w http.ResponseWriter, r *http.Request) {
	if os.Getenv("FCGIAPP_CRASH_PAGE") != "1" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "pid %d exits now\n", os.Getpid())
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		a.log.Printf("pid %d exiting on /crash", os.Getpid())
		os.Exit(3)
	}()
}
