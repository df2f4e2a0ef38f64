package qemutests

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
)

// TestBootServesStatic builds the example appliance, boots it under QEMU,
// fetches static files over the forwarded port and compares bytes, then
// powers it off with Ctrl-C and checks QEMU exited by itself with status 0.
func TestBootServesStatic(t *testing.T) {
	needQEMU(t)
	out := t.TempDir()
	build := tool.Command("build", "-c", exampleConfig(), "-o", out)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("mkimage build: %v\n%s", err, b)
	}
	start := time.Now()
	g := tool.Boot(t, filepath.Join(out, "qemu-x86_64"))
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(90*time.Second))

	www := filepath.Join(tool.Src, "examples", "appliance", "www")
	for _, f := range []struct{ url, file string }{
		{"", "index.html"},
		{"images/noise.bin", "images/noise.bin"},
		{"css/site.css", "css/site.css"},
	} {
		want, err := os.ReadFile(filepath.Join(www, f.file))
		if err != nil {
			t.Fatal(err)
		}
		got := get(t, g.URL+f.url, qemu.Scaled(30*time.Second))
		if !bytes.Equal(got, want) {
			t.Errorf("GET /%s: got %d bytes, want the %d bytes of %s", f.url, len(got), len(want), f.file)
		}
	}
	t.Logf("boot to verified HTTP: %.1f s", time.Since(start).Seconds())

	// The example app answers through the front end's FastCGI routing.
	page := string(get(t, g.URL+"app/", qemu.Scaled(30*time.Second)))
	for _, want := range []string{"fcgiapp", "<th>SCRIPT_NAME</th><td>/app</td>", "<th>LANG</th><td>C</td>", "<th>FCGI_POOL_MEMBER</th><td>0</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("GET /app/ lacks %q:\n%s", want, page)
		}
	}
	resp, err := http.PostForm(g.URL+"app/echo", url.Values{"greeting": {"hello from the host"}})
	if err != nil {
		t.Fatal(err)
	}
	echo, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(echo), "hello from the host") {
		t.Errorf("POST /app/echo: %s\n%s", resp.Status, echo)
	}
	if st := string(get(t, g.URL+".status", qemu.Scaled(10*time.Second))); !strings.Contains(st, "<td>fcgiapp.0</td>") || !strings.Contains(st, "<td>httpfront</td>") {
		t.Errorf("status page lacks the services:\n%s", st)
	}

	if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
		t.Fatalf("mkimage boot exited with %v after power-off (want status 0)", err)
	}
	for _, want := range []string{"init: shutdown: ok (power button)", "init: power off: ok", "reboot: Power down"} {
		if !g.Console.Contains(want) {
			t.Errorf("console lacks %q", want)
		}
	}
	for _, bad := range []string{"Kernel panic", "Oops", "FAILED"} {
		if g.Console.Contains(bad) {
			t.Errorf("console contains %q", bad)
		}
	}
}

// get fetches url, retrying connection errors until timeout (the guest may
// still be starting its front end).
func get(t *testing.T, url string, timeout time.Duration) []byte {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr != nil {
				t.Fatalf("GET %s: reading body: %v", url, rerr)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
			}
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
