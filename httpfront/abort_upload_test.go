package httpfront

import (
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// A client that promises a body, sends part of it and goes away ends the
// app's request at once: the backend connection is closed, not held (with
// the client's descriptor and an app thread) until the response timeout,
// as the soak found (bench/soak, aborted-upload: 50 s to get descriptors
// back).
func TestAbortedUploadEndsTheRequest(t *testing.T) {
	ln, p := listenUnix(t, sockDir(t), "wait.sock")
	closed := make(chan time.Time, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				// An app that reads the whole body before answering;
				// only the connection carrying the upload counts.
				got, _ := io.ReadAll(io.LimitReader(c, 1<<20))
				if strings.Contains(string(got), "/a/up") {
					closed <- time.Now()
				}
				c.Close()
			}()
		}
	}()
	f := hostileFront(t, "unix:"+p, spec.FastCGI{ResponseTimeoutMS: 30000})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /a/up HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n%s", strings.Repeat("b", 1000))
	time.Sleep(200 * time.Millisecond) // the request reaches the app
	gone := time.Now()
	c.Close()
	select {
	case at := <-closed:
		t.Logf("backend connection closed %v after the client left", at.Sub(gone).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("the backend connection was still open 10 s after the client left (response timeout 30 s)")
	}
}
