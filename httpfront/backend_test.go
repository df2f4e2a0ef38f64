package httpfront

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// sockDir returns a short directory for unix sockets (paths are limited
// to 108 bytes).
func sockDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "hf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// listenUnix listens on the unix socket dir/name.sock until the test
// ends and returns the listener and the socket's path.
func listenUnix(t testing.TB, dir, name string) (net.Listener, string) {
	t.Helper()
	p := filepath.Join(dir, name+".sock")
	ln, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, p
}

// goBackend runs h under Go's net/http/fcgi on a unix socket and returns
// its backend address.
func goBackend(t testing.TB, dir, name string, h http.Handler) string {
	t.Helper()
	ln, p := listenUnix(t, dir, name)
	go fcgi.Serve(ln, h)
	return "unix:" + p
}

// envHandler answers with the CGI variables it got, one NAME=value per
// line, sorted, then the body it read.
func envHandler(tag string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := fcgi.ProcessEnv(r)
		var lines []string
		for k, v := range env {
			lines = append(lines, k+"="+v)
		}
		lines = append(lines,
			"METHOD="+r.Method, "URL="+r.URL.String(), "HOST="+r.Host,
			"PROXY="+r.Header.Get("Proxy"), "X_TEST="+r.Header.Get("X-Test"),
			"CL="+fmt.Sprint(r.ContentLength), "BACKEND="+tag)
		sort.Strings(lines)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", tag)
		fmt.Fprintf(w, "%s\nBODY=%s", strings.Join(lines, "\n"), body)
	})
}

// rawBackend is a FastCGI peer written against the record layer, to make
// it misbehave on purpose. serve gets each connection after the request
// (params and stdin) was read.
func rawBackend(t testing.TB, dir, name string, serve func(c net.Conn, w *record.Writer, params map[string]string)) string {
	t.Helper()
	ln, p := listenUnix(t, dir, name)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				params, err := readRequest(c)
				if err != nil {
					return
				}
				serve(c, record.NewWriter(c), params)
			}()
		}
	}()
	return "unix:" + p
}

func readRequest(c net.Conn) (map[string]string, error) {
	rd := record.NewReader(c)
	params := map[string]string{}
	var enc []byte
	for {
		rec, err := rd.Next()
		if err != nil {
			return nil, err
		}
		switch rec.Type {
		case record.TypeParams:
			if len(rec.Content) == 0 {
				pairs, err := record.ParsePairs(enc)
				if err != nil {
					return nil, err
				}
				for _, p := range pairs {
					params[p.Name] = p.Value
				}
			}
			enc = append(enc, rec.Content...)
		case record.TypeStdin:
			if len(rec.Content) == 0 {
				return params, nil
			}
		}
	}
}

// reply writes a complete response to the first request of a connection
// (request id 1).
func reply(w *record.Writer, stdout, stderr string) error { return replyID(w, 1, stdout, stderr) }

// replyID writes a complete response to request id.
func replyID(w *record.Writer, id uint16, stdout, stderr string) error {
	if stderr != "" {
		w.WriteStream(record.TypeStderr, id, []byte(stderr))
	}
	w.WriteStream(record.TypeStdout, id, []byte(stdout))
	w.CloseStream(record.TypeStdout, id)
	w.WriteEndRequest(id, 0, record.StatusRequestComplete)
	return w.Flush()
}

// counter counts calls of a handler.
type counter struct {
	n atomic.Int64
	h http.Handler
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

// echoParams answers with the request's params, one NAME=value a line.
func echoParams(c net.Conn, w *record.Writer, params map[string]string) {
	var lines []string
	for k, v := range params {
		lines = append(lines, k+"="+v)
	}
	sort.Strings(lines)
	reply(w, "Content-Type: text/plain\r\n\r\n"+strings.Join(lines, "\n"), "")
}
