package python

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/httpfront/fcgiclient"
	"github.com/mkimage/mkimage/internal/testkit"
)

// server is one running mkimage_wsgi process.
type server struct {
	sock string // its listening unix socket
	log  string // its stdout and stderr
	cmd  *exec.Cmd
	ln   *os.File // the listening socket, fd 0 of cmd
}

// startServer runs testdata/app.py under mkimage_wsgi with a listening unix
// socket as fd 0, as initsvc's memberCmd does, and extra environment
// variables (FCGI_MAX_THREADS=2...). It is stopped when the test ends.
func startServer(t testing.TB, env ...string) *server {
	t.Helper()
	s := newServer(t, env...)
	testkit.StartProc(t, s.cmd, s.log)
	s.ln.Close()
	return s
}

// newServer prepares the command startServer starts.
func newServer(t testing.TB, env ...string) *server {
	t.Helper()
	py := testkit.NeedPeer(t, "python3")
	dir, err := os.MkdirTemp("", "wsgi") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	s := &server{sock: filepath.Join(dir, "app.sock"), log: filepath.Join(dir, "app.log")}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	here, _ := os.Getwd()
	s.cmd = exec.Command(py, filepath.Join(here, "mkimage_wsgi.py"), "app:application")
	s.cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LANG=C", "APP_DIR=" + filepath.Join(here, "testdata")}, env...)
	s.cmd.Dir = dir
	s.cmd.Stdin, s.ln = f, f
	return s
}

// logText returns what the server wrote to its stdout and stderr.
func (s *server) logText() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

func dial(t testing.TB, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// params are the CGI variables of a request as a web server sends them.
func params(method, uri string, extra ...string) []record.Pair {
	path, query, _ := strings.Cut(uri, "?")
	p := []record.Pair{
		{Name: "REQUEST_METHOD", Value: method}, {Name: "REQUEST_URI", Value: uri},
		{Name: "SCRIPT_NAME", Value: "/app"}, {Name: "PATH_INFO", Value: path},
		{Name: "QUERY_STRING", Value: query}, {Name: "SERVER_NAME", Value: "example.test"},
		{Name: "SERVER_PORT", Value: "80"}, {Name: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p = append(p, record.Pair{Name: extra[i], Value: extra[i+1]})
	}
	return p
}

// begin sends BEGIN_REQUEST and PARAMS, and body unless it is nil (then the
// caller streams STDIN).
func begin(t testing.TB, c net.Conn, id uint16, flags record.Flags, ps []record.Pair, body []byte) {
	t.Helper()
	w := record.NewWriter(c)
	w.WriteBeginRequest(id, record.RoleResponder, flags)
	w.WriteParams(id, ps)
	if body != nil {
		w.WriteStream(record.TypeStdin, id, body)
		w.CloseStream(record.TypeStdin, id)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("sending request %d: %v", id, err)
	}
}

// reply is what came back for one request.
type reply struct {
	stdout, stderr []byte
	end            *record.EndRequest
	stdoutClosed   bool
}

func (r *reply) status() string {
	head, _, _ := strings.Cut(string(r.stdout), "\r\n")
	return strings.TrimPrefix(head, "Status: ")
}

func (r *reply) body() string {
	_, b, _ := strings.Cut(string(r.stdout), "\r\n\r\n")
	return b
}

func (r *reply) header(name string) string {
	head, _, _ := strings.Cut(string(r.stdout), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// readUntil reads the records of request id into r until stop says so or
// END_REQUEST came; records must be padded to 8 and belong to id.
func readUntil(t testing.TB, rd *record.Reader, id uint16, r *reply, stop func(*reply) bool) error {
	t.Helper()
	for r.end == nil && (stop == nil || !stop(r)) {
		rec, err := rd.Next()
		if err != nil {
			return err
		}
		if (record.HeaderLen+int(rec.ContentLength)+int(rec.PaddingLength))%8 != 0 {
			t.Errorf("%v record of %d bytes is not padded to 8", rec.Type, rec.ContentLength)
		}
		if rec.RequestID != id {
			t.Fatalf("%v record for request %d, want %d", rec.Type, rec.RequestID, id)
		}
		switch rec.Type {
		case record.TypeStdout:
			if r.stdoutClosed {
				t.Errorf("STDOUT after the end of the stream")
			}
			r.stdout = append(r.stdout, rec.Content...)
			r.stdoutClosed = len(rec.Content) == 0
		case record.TypeStderr:
			r.stderr = append(r.stderr, rec.Content...)
		case record.TypeEndRequest:
			end, err := record.ParseEndRequest(rec.Content)
			if err != nil {
				t.Fatal(err)
			}
			r.end = &end
		default:
			t.Fatalf("unexpected %v record", rec.Type)
		}
	}
	return nil
}

// roundTrip sends one request on a new connection and reads its reply.
func roundTrip(t testing.TB, sock string, ps []record.Pair, body []byte) *reply {
	t.Helper()
	c := dial(t, sock)
	begin(t, c, 1, 0, ps, body)
	r := &reply{}
	if err := readUntil(t, record.NewReader(c), 1, r, nil); err != nil {
		t.Fatalf("reading the reply: %v (log:\n%s)", err, r.stdout)
	}
	return r
}

// complete checks r ended normally after closing STDOUT.
func complete(t testing.TB, what string, r *reply) {
	t.Helper()
	if r.end == nil || r.end.ProtocolStatus != record.StatusRequestComplete || !r.stdoutClosed {
		t.Errorf("%s: END_REQUEST %+v, STDOUT closed %v", what, r.end, r.stdoutClosed)
	}
}

// clientDo runs a request through the front end's FastCGI client.
func clientDo(t testing.TB, p *fcgiclient.Pool, ps []record.Pair, body io.Reader) (int, string, string) {
	t.Helper()
	var stderr bytes.Buffer
	resp, err := p.Do(context.Background(), &fcgiclient.Request{Params: ps, Body: body, Timeout: 30 * time.Second,
		Stderr: func(_ string, msg []byte) { stderr.Write(msg) }})
	if err != nil {
		t.Fatalf("fcgiclient: %v", err)
	}
	defer resp.Close()
	var out bytes.Buffer
	if _, err := resp.WriteBody(&out, nil); err != nil {
		t.Fatalf("fcgiclient body: %v", err)
	}
	return resp.Status, out.String(), stderr.String()
}

func digest(n int) ([]byte, string) {
	body := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	return body, fmt.Sprintf("received %d bytes sha256=%x\n", n, sha256.Sum256(body))
}
