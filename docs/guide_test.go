// Package docs_test runs every configuration in deploying.md.
//
// Each config block in the guide is marked with an HTML comment on the line
// before its fence, <!-- config: NAME -->. Quoted console and log lines that
// a test reproduces are marked <!-- output: NAME -->: every line of such a
// block must match a line the test saw, digits standing for any number.
// The tests cut the blocks out,
// replace the placeholders the guide lists (paths, the port, the
// appliance's address) and run them: appliance configs are built with
// mkimage (one is booted under QEMU), web server configs are run by the
// real lighttpd, nginx and Apache from Debian on 127.0.0.1 with the example
// app. TestGuideBlocks fails when a block has no test or a config block
// has no mark; TestMain fails a full CI run (MKIMAGE_REQUIRE_PEERS=1) in
// which a marked block was not run to success.
package docs_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

const guidePath = "deploying.md"

// runners names, for every block in the guide, the test that runs it.
var runners = map[string]string{
	"appliance":        "TestAppliance, TestApplianceBoot",
	"appliance-root":   "TestApplianceRoot",
	"lighttpd-spawn":   "TestLighttpdSpawn",
	"myapp-socket":     "TestAppOnItsOwnSocket",
	"myapp-service":    "TestAppOnItsOwnSocket",
	"lighttpd-socket":  "TestAppOnItsOwnSocket/lighttpd",
	"nginx-fastcgi":    "TestAppOnItsOwnSocket/nginx",
	"apache-fcgi":      "TestAppOnItsOwnSocket/apache",
	"nginx-proxy":      "TestReverseProxy/nginx, TestApplianceBoot",
	"apache-proxy":     "TestReverseProxy/apache",
	"lighttpd-proxy":   "TestReverseProxy/lighttpd",
	"data-write":       "TestDataWrite",
	"python-appliance": "TestPythonAppliance, TestPythonLighttpd",
	"python-lighttpd":  "TestPythonLighttpd",
	"https-acme":       "TestHTTPSACME",
	"https-own":        "TestHTTPSOwn",

	"appliance-console": "TestApplianceBoot",
	"appliance-tuning":  "TestApplianceBoot",
	"prefix-error":      "TestAppliance",
	"front-no-backend":  "TestAppliance",
}

// configLangs are fence languages that hold configuration: such a block
// must be marked.
var configLangs = map[string]bool{
	"toml": true, "nginx": true, "apache": true, "apacheconf": true, "lighttpd": true,
	"ini": true, "systemd": true, "conf": true, "json": true, "yaml": true,
}

// looksLikeConfig catches a config block fenced as another language.
var looksLikeConfig = regexp.MustCompile(`(?m)^\s*(server\s*\{|location\s+\S+\s*\{|<VirtualHost|<Location|ProxyPass\s|fastcgi\.server|proxy\.server|\[\[app\]\]|\[web\]|\[Service\]|\[Socket\]|ListenStream=|ExecStart=)`)

type block struct {
	Kind, ID, Lang, Text string
	Line                 int
}

var (
	parseOnce  sync.Once
	blocks     []block
	parseErr   error
	ran        sync.Map // block ID → true once a test ran it to success
	markerRE   = regexp.MustCompile(`^<!--\s*(config|output):\s*([a-z0-9-]+)\s*-->$`)
	fenceStart = regexp.MustCompile("^```([A-Za-z0-9_-]*)\\s*$")
)

// parseGuide returns every fenced block of the guide, with its mark.
func parseGuide() ([]block, error) {
	parseOnce.Do(func() {
		f, err := os.Open(guidePath)
		if err != nil {
			parseErr = err
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		var cur *block
		var indent, pending, pendingKind string
		pendingLine := 0
		n := 0
		for sc.Scan() {
			n++
			raw := sc.Text()
			line := strings.TrimSpace(raw)
			if cur != nil {
				if line == "```" {
					blocks = append(blocks, *cur)
					cur = nil
					continue
				}
				cur.Text += strings.TrimPrefix(raw, indent) + "\n"
				continue
			}
			if m := fenceStart.FindStringSubmatch(line); m != nil {
				cur = &block{Lang: m[1], Line: n}
				indent = raw[:len(raw)-len(strings.TrimLeft(raw, " "))]
				if pending != "" && pendingLine == n-1 {
					cur.Kind, cur.ID = pendingKind, pending
				}
				pending = ""
				continue
			}
			if m := markerRE.FindStringSubmatch(line); m != nil {
				pendingKind, pending, pendingLine = m[1], m[2], n
			}
		}
		if cur != nil {
			parseErr = fmt.Errorf("%s:%d: unterminated code block", guidePath, cur.Line)
		}
		if parseErr == nil {
			parseErr = sc.Err()
		}
	})
	return blocks, parseErr
}

// TestGuideBlocks checks the marks: every config block is marked, every
// mark names a block some test runs, and every test's block exists.
func TestGuideBlocks(t *testing.T) {
	bs, err := parseGuide()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, b := range bs {
		switch {
		case b.ID != "":
			if seen[b.ID] {
				t.Errorf("%s:%d: block %q is marked twice", guidePath, b.Line, b.ID)
			}
			seen[b.ID] = true
			if runners[b.ID] == "" {
				t.Errorf("%s:%d: block %q is not run by any test: add a runner in docs/*_test.go and list it in runners", guidePath, b.Line, b.ID)
			}
		case b.Kind == "output" && configLangs[b.Lang]:
			t.Errorf("%s:%d: a %s block marked as output: configs are marked <!-- config: NAME -->", guidePath, b.Line, b.Lang)
		case configLangs[b.Lang]:
			t.Errorf("%s:%d: a %s block without a <!-- config: NAME --> mark on the line before it: every config in the guide must be run by a test", guidePath, b.Line, b.Lang)
		case looksLikeConfig.MatchString(b.Text):
			t.Errorf("%s:%d: this %q block looks like a config but has no <!-- config: NAME --> mark", guidePath, b.Line, b.Lang)
		}
	}
	for id := range runners {
		if !seen[id] {
			t.Errorf("the tests run block %q, which the guide no longer has", id)
		}
	}
	if len(seen) < len(runners) || t.Failed() {
		return
	}
	t.Logf("%d marked blocks, all with a runner", len(seen))
}

// guideBlock returns the text of the block called id and records it as run
// when the test finishes without failing or skipping.
func guideBlock(t *testing.T, id string) string {
	t.Helper()
	bs, err := parseGuide()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.ID == id {
			t.Cleanup(func() {
				if !t.Failed() && !t.Skipped() {
					ran.Store(id, true)
				}
			})
			return b.Text
		}
	}
	t.Fatalf("the guide has no block marked <!-- config: %s --> or <!-- output: %s -->", id, id)
	return ""
}

var digitsRE = regexp.MustCompile(`[0-9]+`)

// checkOutput checks that every line of the guide's output block id
// matches a line of got, any run of digits standing for any number.
func checkOutput(t *testing.T, id, got string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(guideBlock(t, id)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		re := regexp.MustCompile(`(?m)^\s*` + digitsRE.ReplaceAllString(regexp.QuoteMeta(line), `[0-9]+`) + `\s*$`)
		if !re.MatchString(got) {
			t.Errorf("the guide quotes a line the run did not print (block %s):\n  %s\nthe run printed:\n%s", id, line, got)
		}
	}
}

// fill replaces placeholders (old, new pairs) in a block; each one must
// occur, so a guide edit that drops a placeholder is noticed rather than
// leaving a user's path in a test.
func fill(t *testing.T, text string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("the block no longer contains the placeholder %q:\n%s", pairs[i], text)
		}
		text = strings.ReplaceAll(text, pairs[i], pairs[i+1])
	}
	return text
}

func TestMain(m *testing.M) {
	code := m.Run()
	if f := flag.Lookup("test.run"); code == 0 && (f == nil || f.Value.String() == "") {
		code = checkAllRun()
	}
	cleanupShared()
	os.Exit(code)
}

// checkAllRun reports blocks no test ran to success; in CI (peers
// required) that fails the run.
func checkAllRun() int {
	bs, err := parseGuide()
	if err != nil {
		return 0 // TestGuideBlocks reported it
	}
	var missing []string
	for _, b := range bs {
		if _, ok := ran.Load(b.ID); b.ID != "" && !ok {
			missing = append(missing, b.ID)
		}
	}
	if len(missing) == 0 {
		return 0
	}
	sort.Strings(missing)
	msg := fmt.Sprintf("guide blocks not run (their tests skipped): %s", strings.Join(missing, ", "))
	if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" || os.Getenv("MKIMAGE_REQUIRE_QEMU") == "1" {
		fmt.Fprintln(os.Stderr, "FAIL:", msg)
		return 1
	}
	fmt.Fprintln(os.Stderr, "note:", msg)
	return 0
}
