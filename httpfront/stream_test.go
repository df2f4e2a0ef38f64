package httpfront

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/spec"
)

// The first body bytes that arrive in the same record as the CGI header
// reach the client at once, not when the app sends its next record.
func TestFirstBytesStream(t *testing.T) {
	dir := sockDir(t)
	release := make(chan struct{})
	be := rawBackend(t, dir, "stream", func(c net.Conn, w *record.Writer, _ map[string]string) {
		_ = w.WriteStream(record.TypeStdout, 1, []byte("Content-Type: text/plain\r\n\r\nfirst\n"))
		_ = w.Flush()
		<-release
		reply(w, "", "")
	})
	f := newFront(t, spec.Front{Root: tree(t, map[string]string{"index.html": "x"}), Apps: []spec.App{{Name: "s", Prefix: "/s", Backends: []string{be}}}}, Options{})
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer close(release)
	resp, err := http.Get(srv.URL + "/s/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if strings.TrimSpace(line) != "first" {
			t.Errorf("first line %q", line)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the first body bytes did not arrive while the app was still working")
	}
}
