package qemutests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
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

// TestPythonApp builds the python starter (`mkimage init --app python`:
// Flask from Debian 12's packages, served by mkimage_wsgi in the pool) for
// x86_64, booted from its disk under SeaBIOS so its SQLite database is on
// the data partition, and for aarch64 (Debian's arm64 packages), booted
// directly; each serves the page, the form POST and its redirect, the
// JSON API, a file upload, a streamed response and the WSGI environment
// the seed's prefix fix was for.
func TestPythonApp(t *testing.T) {
	for _, c := range []struct{ board, boot string }{
		{"qemu-x86_64", "bios"},
		{"qemu-aarch64", "direct"},
	} {
		t.Run(c.board, func(t *testing.T) {
			if c.board == "qemu-aarch64" {
				needQEMUBinary(t, "qemu-system-aarch64")
			} else {
				needQEMU(t)
			}
			dir := t.TempDir()
			if msg, code := run(t, nil, "init", "--app", "python", "-o", dir); code != 0 {
				t.Fatalf("init --app python: exit %d\n%s", code, msg)
			}
			cfgPath := filepath.Join(dir, "appliance.toml")
			cfg, err := os.ReadFile(cfgPath)
			must(t, err)
			cfg = bytes.Replace(cfg, []byte(`board = "qemu-x86_64"`), []byte(fmt.Sprintf("board = %q", c.board)), 1)
			must(t, os.WriteFile(cfgPath, cfg, 0o644))
			start := time.Now()
			out := filepath.Join(dir, "out")
			if msg, code := run(t, nil, "build", "-c", cfgPath, "-o", out); code != 0 {
				t.Fatalf("build: exit %d\n%s", code, msg)
			}
			t.Logf("%s: built in %.1f s", c.board, time.Since(start).Seconds())
			if _, err := os.Stat(filepath.Join(dir, "appliance.lock")); err != nil {
				t.Errorf("no appliance.lock beside the config: %v", err)
			}
			img := filepath.Join(out, c.board)
			// The whole system is in RAM (the initramfs): Python and its
			// packages need about 224 MiB on x86_64 and 320 MiB on arm64,
			// more than the board's 256 there.
			args := []string{"-m", "384", img}
			if c.boot == "bios" {
				args = []string{"-boot", "bios", "-disk", diskCopy(t, img), img}
			}
			g := tool.Boot(t, args...)
			g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(240*time.Second))
			t.Logf("%s: ready after %.1f s", c.board, time.Since(start).Seconds())
			checkShop(t, g.URL)
			powerOff(t, g)
		})
	}
}

// checkShop exercises the starter's Flask app at base.
func checkShop(t *testing.T, base string) {
	if page := string(get(t, base, qemu.Scaled(120*time.Second))); !strings.Contains(page, "<h1>The shop</h1>") {
		t.Errorf("GET /: %q", page)
	}
	noRedirect := &http.Client{Timeout: qemu.Scaled(30 * time.Second), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(base+"notes", url.Values{"body": {"from the form"}})
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("form POST: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = noRedirect.Post(base+"api/notes", "application/json", strings.NewReader(`{"body":"from JSON"}`))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("JSON POST: %s", resp.Status)
	}
	var list struct{ Notes []struct{ Body string } }
	must(t, json.Unmarshal(get(t, base+"api/notes", qemu.Scaled(30*time.Second)), &list))
	if len(list.Notes) != 2 || list.Notes[0].Body != "from the form" || list.Notes[1].Body != "from JSON" {
		t.Errorf("notes in SQLite: %+v", list.Notes)
	}
	checkUpload(t, noRedirect, base)
	checkStream(t, noRedirect, base)
	var env map[string]string
	must(t, json.Unmarshal(get(t, base+"env?x=1", qemu.Scaled(30*time.Second)), &env))
	for k, v := range map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/env", "QUERY_STRING": "x=1", "LANG": "C",
		"APP_DIR": "/app/shop", "DATA_DIR": "/data/apps/shop", "FCGI_MAX_THREADS": "50", "wsgi.multithread": "True"} {
		if env[k] != v {
			t.Errorf("environ %s = %q, want %q", k, env[k], v)
		}
	}
}

// checkUpload posts 600 KiB as a multipart file; the app hashes what it got.
func checkUpload(t *testing.T, c *http.Client, base string) {
	data := make([]byte, 600<<10)
	_, _ = rand.Read(data)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "noise.bin")
	must(t, err)
	_, _ = fw.Write(data)
	must(t, mw.Close())
	resp, err := c.Post(base+"upload", mw.FormDataContentType(), &body)
	must(t, err)
	defer resp.Body.Close()
	var got struct {
		Name   string
		Bytes  int
		SHA256 string
	}
	sum := sha256.Sum256(data)
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.Bytes != len(data) || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("upload: %s %+v %v", resp.Status, got, err)
	}
}

// checkStream reads the streamed response: its chunks in order.
func checkStream(t *testing.T, c *http.Client, base string) {
	resp, err := c.Get(base + "stream?n=20")
	must(t, err)
	defer resp.Body.Close()
	if resp.Header.Get("Content-Length") != "" {
		t.Errorf("a streamed response has a Content-Length: %q", resp.Header.Get("Content-Length"))
	}
	sc := bufio.NewScanner(resp.Body)
	for i := 0; i < 20; i++ {
		if !sc.Scan() || sc.Text() != fmt.Sprintf("chunk %d", i) {
			t.Fatalf("stream line %d: %q (%v)", i, sc.Text(), sc.Err())
		}
	}
	if rest, _ := io.ReadAll(resp.Body); len(rest) != 0 {
		t.Errorf("after the chunks: %q", rest)
	}
}
