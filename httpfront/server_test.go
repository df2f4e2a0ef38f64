package httpfront

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// startServer runs a Server on a loopback port and returns its address.
func startServer(t *testing.T, cfg spec.Front, logw io.Writer) (*Server, string) {
	t.Helper()
	return startServerOpt(t, cfg, ServerOptions{AccessLog: logw})
}

func TestServerLimits(t *testing.T) {
	root := tree(t, map[string]string{"index.html": "home"})
	_, addr := startServer(t, spec.Front{Root: root, ReadHeaderTimeoutMS: 200, MaxHeaderBytes: 4096}, nil)
	t.Run("slowloris", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
		for i := 0; i < 20; i++ { // one header line every 100 ms
			time.Sleep(100 * time.Millisecond)
			if _, err := c.Write([]byte("X-A: b\r\n")); err != nil {
				break
			}
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.ReadAll(c)
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("slow header held the connection %v", d)
		}
	})
	t.Run("431", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("a", 8192))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 431 {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})
	t.Run("keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d on one connection: %v", i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "home" {
				t.Fatalf("got %q", b)
			}
		}
	})
}

func TestAccessLog(t *testing.T) {
	root := tree(t, map[string]string{"index.html": "home"})
	var buf syncBuf
	s, addr := startServer(t, spec.Front{Root: root}, &buf)
	req, _ := http.NewRequest("GET", "http://"+addr+"/?q=\"x", nil)
	req.Header.Set("Referer", "http://ref/")
	req.Header.Set("User-Agent", "tester/1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.Shutdown(context.Background())
	re := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /\?q=(%22|\\")x HTTP/1\.1" 200 4 "http://ref/" "tester/1"\n$`)
	if !re.MatchString(buf.String()) {
		t.Errorf("access log line %q", buf.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReloadKeepsInFlight(t *testing.T) {
	dir := sockDir(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	be := goBackend(t, dir, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "old app")
	}))
	rootA := tree(t, map[string]string{"index.html": "A"})
	rootB := tree(t, map[string]string{"index.html": "B"})
	cfg := spec.Front{Root: rootA, Apps: []spec.App{{Name: "a", Prefix: "/app", Backends: []string{be}}}}
	s, addr := startServer(t, cfg, nil)
	done := make(chan string)
	go func() { _, b := get(t, http.DefaultClient, "http://"+addr+"/app/x"); done <- b }()
	<-started
	if err := s.Reload(spec.Front{Root: rootB}); err != nil {
		t.Fatal(err)
	}
	if _, b := get(t, http.DefaultClient, "http://"+addr+"/"); b != "B" {
		t.Errorf("after reload got %q", b)
	}
	close(release)
	if b := <-done; b != "old app" {
		t.Errorf("in-flight request got %q", b)
	}
	if err := s.Reload(spec.Front{Root: "/nonexistent"}); err == nil {
		t.Error("reload with a bad root succeeded")
	}
	if _, b := get(t, http.DefaultClient, "http://"+addr+"/"); b != "B" {
		t.Errorf("after failed reload got %q", b)
	}
}

func TestTLSHTTP2(t *testing.T) {
	root := tree(t, map[string]string{"index.html": "secure"})
	ts := httptest.NewUnstartedServer(nil) // only for its certificate
	ts.StartTLS()
	ts.Close()
	certFile, keyFile := writeCert(t, ts.TLS.Certificates[0])
	s, err := NewServer(spec.Front{Root: root, TLSCert: certFile, TLSKey: keyFile}, ServerOptions{AccessLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeTLS(ln)
	defer s.Shutdown(context.Background())
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(b) != "secure" {
		t.Errorf("got %s %q, want HTTP/2 \"secure\"", resp.Proto, b)
	}
}
