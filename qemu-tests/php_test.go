package qemutests

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
)

const phpPage = `<?php
echo "php ", PHP_VERSION, " pid ", getmypid(), " script ", $_SERVER["SCRIPT_NAME"], " tz ", date_default_timezone_get(), "\n";
if ($_SERVER["REQUEST_METHOD"] === "POST") { echo "name=", $_POST["name"] ?? "", "\n"; }
`

// TestBootPHP packs Debian's php-cgi (a host binary: its loader and shared
// libraries come along) as the app and runs a .php page inside the image.
func TestBootPHP(t *testing.T) {
	needQEMU(t)
	php, err := exec.LookPath("php-cgi")
	if err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
			t.Fatal("php-cgi is required (MKIMAGE_REQUIRE_PEERS=1) but missing")
		}
		t.Skip("php-cgi not installed")
	}
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "www", "php"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("static\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "www", "php", "hello.php"), []byte(phpPage), 0o644))
	cfg := fmt.Sprintf(`[network]
address = "10.0.2.15/24"
[web]
root = "www"
[[app]]
name = "php"
prefix = "/php"
program = %q
args = ["-n"]
check_local = true
procs = 1
env = { TZ = "UTC", PHP_FCGI_MAX_REQUESTS = "500" }
files = ["/usr/share/zoneinfo/UTC"]
`, php)
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	t.Log(strings.TrimSpace(msg[strings.LastIndex(msg, "contents"):]))
	g := tool.Boot(t, filepath.Join(out, "qemu-x86_64"))
	g.Console.Expect(t, regexp.MustCompile(`^init: pool php: ok 1 processes ready`), qemu.Scaled(120*time.Second))
	page := string(get(t, g.URL+"php/hello.php", qemu.Scaled(30*time.Second)))
	if !regexp.MustCompile(`^php 8\.\d+\.\d+.* script /php/hello\.php tz UTC\n$`).MatchString(page) {
		t.Errorf("GET /php/hello.php = %q", page)
	}
	resp, err := http.PostForm(g.URL+"php/hello.php", url.Values{"name": {"Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasSuffix(string(body), "name=Ada\n") {
		t.Errorf("POST: %s %q", resp.Status, body)
	}
	if got := string(get(t, g.URL, qemu.Scaled(10*time.Second))); got != "static\n" {
		t.Errorf("GET / = %q", got)
	}
	if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
		t.Fatalf("power-off: %v", err)
	}
}
