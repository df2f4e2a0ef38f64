package fcgiclient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// crashingBackend accepts connections, reads a little and hangs up without
// answering, like a member that dies mid-request.
func crashingBackend(t *testing.T, path string) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 64))
			c.Close()
		}
	}()
}

func goodBackend(t *testing.T, path string) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		_ = fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	}()
}

var getParams = []record.Pair{{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "SERVER_PROTOCOL", Value: "HTTP/1.1"}, {Name: "REQUEST_URI", Value: "/"}}

// An idempotent request whose backend hangs up before answering is retried
// on another member; a request that is not idempotent is not.
func TestRetryIdempotentOnHangup(t *testing.T) {
	dir := t.TempDir()
	bad, good := filepath.Join(dir, "bad.sock"), filepath.Join(dir, "good.sock")
	crashingBackend(t, bad)
	goodBackend(t, good)
	do := func(p *Pool, idempotent bool) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := p.Do(ctx, &Request{Params: getParams, Timeout: 2 * time.Second, Idempotent: idempotent})
		if err != nil {
			return "", err
		}
		defer resp.Close()
		body, _ := io.ReadAll(resp.Body())
		return string(body), nil
	}
	pool := func(addrs ...string) *Pool {
		p, err := NewPool(addrs, Options{DownTime: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	both := pool("unix:"+bad, "unix:"+good)
	for i := 0; i < 6; i++ { // the start rotates: half the tries hit the crashing member first
		body, err := do(both, true)
		if err != nil || !strings.Contains(body, "ok") {
			t.Fatalf("idempotent try %d: %q, %v", i, body, err)
		}
		time.Sleep(2 * time.Millisecond) // let the crashed member come back
	}
	only := pool("unix:" + bad)
	for _, idem := range []bool{true, false} {
		if _, err := do(only, idem); err == nil || errors.Is(err, ErrNoBackend) {
			t.Errorf("idempotent=%v on a lone crashing member: err = %v, want a broken-backend error (502)", idem, err)
		}
	}
}
