package httpfront

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mkimage/mkimage/spec"
)

const secret = "TOP-SECRET-OUTSIDE-THE-ROOT"

// jail is a document root with a secret beside it and symlinks that point
// out of it (and one that stays inside).
type jail struct {
	base, root string
	front      *Front
	mu         sync.Mutex
	escapes    []string // files opened outside the root
}

func newJail(t testing.TB) *jail {
	base := t.TempDir()
	base, _ = filepath.EvalSymlinks(base)
	root := filepath.Join(base, "www")
	for _, d := range []string{root + "/sub", base + "/alias", base + "/private"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, base+"/secret.txt", secret)
	writeFile(t, base+"/private/index.html", secret)
	writeFile(t, root+"/index.html", "home")
	writeFile(t, root+"/sub/ok.txt", "ok")
	writeFile(t, root+"/.htpasswd", secret)
	writeFile(t, base+"/alias/pic.txt", "pic")
	links := map[string]string{
		root + "/out":          "../secret.txt",
		root + "/abs":          base + "/secret.txt",
		root + "/outdir":       "../private",
		root + "/sub/up":       "../../secret.txt",
		root + "/inside":       "sub/ok.txt",
		root + "/loop":         "loop",
		base + "/alias/escape": "../secret.txt",
	}
	for l, target := range links {
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
	}
	j := &jail{base: base, root: root}
	j.front = newFront(t, spec.Front{Root: root, DirListing: true, Aliases: []spec.Alias{{Prefix: "/alias", Dir: base + "/alias"}}},
		Options{onOpen: j.check})
	return j
}

// check records a file opened outside the root or the alias directory.
func (j *jail) check(f *os.File) {
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return
	}
	if !(hasPathPrefix(p, j.root) || hasPathPrefix(p, j.base+"/alias")) {
		j.mu.Lock()
		j.escapes = append(j.escapes, p)
		j.mu.Unlock()
	}
}

var hostilePaths = []string{
	"/../secret.txt", "/..", "/../", "/sub/../../secret.txt", "/./../secret.txt",
	"/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/.%2e/secret.txt", "/%2e./secret.txt",
	"/..%2fsecret.txt", "/..%2Fsecret.txt", "/sub%2f..%2f..%2fsecret.txt", "/%2f..%2fsecret.txt",
	"/..%5csecret.txt", "/..\\secret.txt", "/sub\\..\\..\\secret.txt", "/%5c..%5csecret.txt",
	"/secret.txt%00.html", "/index.html%00", "/%00", "/sub/%00/../..",
	"/%c0%ae%c0%ae/secret.txt", "/%c0%af../secret.txt", "/..%c0%afsecret.txt", "/%e0%80%ae%e0%80%ae/secret.txt",
	"/..%c1%9csecret.txt", "/%ff/secret.txt", "/%25%32%65%25%32%65/secret.txt",
	"/out", "/abs", "/outdir/", "/outdir/index.html", "/sub/up", "/loop",
	"/.htpasswd", "/sub/../.htpasswd", "/%2ehtpasswd",
	"/alias/escape", "/alias/../secret.txt", "/alias/..%2f..%2fsecret.txt", "/alias%2f../secret.txt",
	"//../secret.txt", "/sub//../../secret.txt", "/.../secret.txt", "/...", "/sub/.",
	"/%2e", "/.", "/./", "/sub/./ok.txt/..", "/index.html/..", "/index.html/../../secret.txt",
	"http://example.test/../secret.txt", "/" + strings.Repeat("../", 40) + "secret.txt",
	"/" + strings.Repeat("%2e%2e%2f", 20) + "secret.txt", "*", "secret.txt",
}

func TestHostilePaths(t *testing.T) {
	j := newJail(t)
	if len(hostilePaths) < 40 {
		t.Fatalf("only %d hostile paths", len(hostilePaths))
	}
	for _, target := range hostilePaths {
		for _, method := range []string{"GET", "HEAD"} {
			r, ok := rawRequest(method, target, nil)
			if !ok {
				continue // Go's server refuses it before any handler
			}
			w := httptest.NewRecorder()
			j.front.ServeHTTP(w, r)
			if w.Code == 200 || w.Code == 206 {
				t.Errorf("%s %q: status %d, body %q", method, target, w.Code, w.Body.String())
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("%s %q leaked the secret", method, target)
			}
		}
	}
	if len(j.escapes) > 0 {
		t.Errorf("opened outside the root: %v", j.escapes)
	}
	// The symlink that stays inside still works.
	if w := do(t, j.front, "GET", "/inside", nil); w.Code != 200 || w.Body.String() != "ok" {
		t.Errorf("inside symlink: %d %q", w.Code, w.Body.String())
	}
}

// FuzzStaticPath asserts that no request target makes the front end open
// a file outside its directories or answer with the secret beside them.
func FuzzStaticPath(f *testing.F) {
	for _, p := range hostilePaths {
		f.Add(p)
	}
	f.Add("/sub/ok.txt")
	j := newJail(f)
	f.Fuzz(func(t *testing.T, target string) {
		r, ok := rawRequest("GET", target, nil)
		if !ok {
			return
		}
		w := httptest.NewRecorder()
		j.front.ServeHTTP(w, r)
		if strings.Contains(w.Body.String(), secret) {
			t.Fatalf("%q leaked the secret (status %d)", target, w.Code)
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if len(j.escapes) > 0 {
			t.Fatalf("%q opened %v", target, j.escapes)
		}
	})
}

// FuzzCleanPath checks the invariants of cleanPath's result.
func FuzzCleanPath(f *testing.F) {
	for _, p := range hostilePaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, target string) {
		r, ok := rawRequest("GET", target, nil)
		if !ok {
			return
		}
		p, st := cleanPath(r)
		if st != 0 {
			return
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("%q -> %q", target, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." || seg == "." || (strings.HasPrefix(seg, ".") && seg != ".well-known") {
				t.Fatalf("%q -> %q has segment %q", target, p, seg)
			}
		}
	})
}

func TestHiddenBelow(t *testing.T) {
	for _, tc := range []struct {
		p, root string
		want    bool
	}{
		{"/srv/www", "/srv/www", false},
		{"/srv/www/a.txt", "/srv/www", false},
		{"/srv/www/sub/a.txt", "/srv/www", false},
		{"/srv/www/.env", "/srv/www", true},
		{"/srv/www/.git/config", "/srv/www", true},
		{"/srv/www/sub/.htpasswd", "/srv/www", true},
		{"/srv/www/.well-known/acme", "/srv/www", false},
		{"/srv/www/sub/.well-known/acme", "/srv/www", true},
		{"/srv/www2/a.txt", "/srv/www", true},
		{"/srv/a.txt", "/srv/www", true},
		{"/srv/.www/a.txt", "/srv/.www", false}, // the root itself may be anywhere
		{"/a.txt", "/", false},
		{"/.env", "/", true},
		{"/srv/www/a.txt (deleted)", "/srv/www", false},
	} {
		if got := hiddenBelow(tc.p, tc.root); got != tc.want {
			t.Errorf("hiddenBelow(%q, %q) = %v, want %v", tc.p, tc.root, got, tc.want)
		}
	}
}
