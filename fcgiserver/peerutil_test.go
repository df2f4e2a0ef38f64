package fcgiserver

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
)

// buildApp builds examples/fcgiapp into a temporary directory.
func buildApp(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fcgiapp")
	cmd := exec.Command("go", "build", "-o", out, "github.com/mkimage/mkimage/examples/fcgiapp")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the example app: %v\n%s", err, b)
	}
	return out
}

func httpClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true},
	}
}

// get fetches url and returns status and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// postSizes posts bodies of 1 byte, 64 KiB and 8 MiB as octet streams and
// checks the reply names their length and SHA-256.
func postSizes(t *testing.T, c *http.Client, url string) {
	t.Helper()
	for _, n := range []int{1, 64 << 10, 8 << 20} {
		body := bytes.Repeat([]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g'}, n/7+1)[:n]
		resp, err := c.Post(url, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %d bytes: %v", n, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("received %d bytes sha256=%x", n, sha256.Sum256(body))
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("POST %d bytes: %d %q, want %q", n, resp.StatusCode, b, want)
		}
	}
}

// checkBig fetches n bytes from a /big endpoint and checks the pattern.
func checkBig(t *testing.T, c *http.Client, url string, n int) {
	t.Helper()
	status, body := get(t, c, url)
	want := strings.Repeat("0123456789abcdef", n/16)
	if status != 200 || body != want {
		t.Errorf("GET %s: status %d, %d bytes, pattern ok %v", url, status, len(body), body == want)
	}
}

// readSomeAndHangUp reads at least n bytes of a response and closes the
// client connection mid-response.
func readSomeAndHangUp(t *testing.T, addr, path string, n int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path)
	got, err := io.ReadAtLeast(c, make([]byte, n), n)
	if err != nil {
		t.Fatalf("reading the first %d bytes of %s: got %d, %v", n, path, got, err)
	}
}

// concurrentStatuses sends n simultaneous GETs and counts the statuses; a
// request that fails outright is reported as status 0, a 503 that does not
// come from fcgiserver's overload answer as -503.
func concurrentStatuses(t *testing.T, url string, n int) map[int]int {
	t.Helper()
	c := httpClient()
	c.Timeout = 20 * time.Second
	type result struct {
		status int
		body   string
	}
	results := make(chan result, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			resp, err := c.Get(url)
			if err != nil {
				results <- result{0, err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
				results <- result{-503, "503 without Retry-After (not from fcgiserver): " + string(b)}
				return
			}
			results <- result{resp.StatusCode, string(b)}
		}()
	}
	close(start)
	counts := map[int]int{}
	for range n {
		r := <-results
		counts[r.status]++
		if r.status != 200 && r.status != 503 {
			t.Errorf("status %d: %q", r.status, r.body)
		}
	}
	return counts
}

// waitLog waits until the file at path contains s.
func waitLog(t *testing.T, path, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%q not logged in 10s; log:\n%s", s, b)
}

func readAll(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startDaemon starts a web server in the foreground with its output in
// logPath, stopped when the test ends.
func startDaemon(t *testing.T, logPath string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	testkit.StartProc(t, cmd, logPath)
	return cmd
}
