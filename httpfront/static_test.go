package httpfront

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

func gz(t testing.TB, s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func staticFront(t *testing.T, cfg spec.Front) *Front {
	big := strings.Repeat("0123456789abcdef", 40<<10) // 640 KiB: served from disk
	root := tree(t, map[string]string{
		"index.html":        "<h1>home</h1>\n",
		"style.css":         "body{}\n",
		"app.js":            strings.Repeat("x", 1000),
		"app.js.br":         "BR",
		"app.js.gz":         gz(t, strings.Repeat("x", 1000)),
		"app.js.zst":        "ZSTD",
		"data.bin":          "0123456789",
		"big.bin":           big,
		"docs/index.html":   "docs\n",
		"empty/.keep":       "",
		"list/a.txt":        "a",
		"list/.hidden":      "h",
		".env":              "SECRET=1",
		".well-known/x.txt": "acme",
		"assets/logo.svg":   "<svg/>",
	})
	alias := tree(t, map[string]string{"pic.png": "PNG", "deep/x.txt": "deep"})
	alias2 := tree(t, map[string]string{"x.txt": "longer alias"})
	cfg.Root = root
	cfg.Aliases = []spec.Alias{{Prefix: "/img", Dir: alias}, {Prefix: "/img/deep", Dir: alias2}}
	return newFront(t, cfg, Options{})
}

func TestStatic(t *testing.T) {
	f := staticFront(t, spec.Front{
		DirListing:   false,
		CacheControl: []spec.CacheRule{{Prefix: "/assets", Value: "max-age=86400"}, {Prefix: "/", Ext: []string{".css"}, Value: "no-cache"}},
	})
	etag := do(t, f, "GET", "/data.bin", nil).Header().Get("Etag")
	lastMod := do(t, f, "GET", "/data.bin", nil).Header().Get("Last-Modified")
	gzETag := do(t, f, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip"}).Header().Get("Etag")
	tests := []struct {
		name, method, target string
		hdr                  map[string]string
		status               int
		body                 string            // exact when not empty
		want                 map[string]string // headers ("" = absent)
	}{
		{"index", "GET", "/", nil, 200, "<h1>home</h1>\n", map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{"sub index", "GET", "/docs/", nil, 200, "docs\n", nil},
		{"dir redirect", "GET", "/docs?x=1", nil, 301, "", map[string]string{"Location": "/docs/?x=1"}},
		{"no listing", "GET", "/list/", nil, 403, "", nil},
		{"css mime", "GET", "/style.css", nil, 200, "body{}\n", map[string]string{"Content-Type": "text/css; charset=utf-8", "Cache-Control": "no-cache"}},
		{"svg mime + cache rule", "GET", "/assets/logo.svg", nil, 200, "<svg/>", map[string]string{"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"}},
		{"no rule", "GET", "/data.bin", nil, 200, "0123456789", map[string]string{"Cache-Control": "", "Content-Length": "10", "Accept-Ranges": "bytes"}},
		{"head", "HEAD", "/data.bin", nil, 200, "", map[string]string{"Content-Length": "10"}},
		{"post", "POST", "/data.bin", nil, 405, "", map[string]string{"Allow": "GET, HEAD"}},
		{"missing", "GET", "/nope", nil, 404, "", nil},
		{"file as dir", "GET", "/data.bin/", nil, 404, "", nil},
		{"dotfile", "GET", "/.env", nil, 404, "", nil},
		{"hidden in dir", "GET", "/list/.hidden", nil, 404, "", nil},
		{"well-known", "GET", "/.well-known/x.txt", nil, 200, "acme", nil},
		{"inm 304", "GET", "/data.bin", map[string]string{"If-None-Match": etag}, 304, "", map[string]string{"Etag": etag}},
		{"inm list", "GET", "/data.bin", map[string]string{"If-None-Match": `"x", W/` + etag}, 304, "", nil},
		{"inm other", "GET", "/data.bin", map[string]string{"If-None-Match": `"other"`}, 200, "0123456789", nil},
		{"ims 304", "GET", "/data.bin", map[string]string{"If-Modified-Since": lastMod}, 304, "", nil},
		{"ims old", "GET", "/data.bin", map[string]string{"If-Modified-Since": "Mon, 02 Jan 2006 15:04:05 GMT"}, 200, "", nil},
		{"inm beats ims", "GET", "/data.bin", map[string]string{"If-None-Match": `"other"`, "If-Modified-Since": lastMod}, 200, "", nil},
		{"if-match fail", "GET", "/data.bin", map[string]string{"If-Match": `"other"`}, 412, "", nil},
		{"range", "GET", "/data.bin", map[string]string{"Range": "bytes=2-4"}, 206, "234", map[string]string{"Content-Range": "bytes 2-4/10", "Content-Length": "3"}},
		{"suffix range", "GET", "/data.bin", map[string]string{"Range": "bytes=-3"}, 206, "789", nil},
		{"open range", "GET", "/data.bin", map[string]string{"Range": "bytes=7-"}, 206, "789", nil},
		{"range 416", "GET", "/data.bin", map[string]string{"Range": "bytes=20-30"}, 416, "", map[string]string{"Content-Range": "bytes */10"}},
		{"bad range ignored", "GET", "/data.bin", map[string]string{"Range": "bytes=x-y"}, 200, "0123456789", nil},
		{"if-range stale", "GET", "/data.bin", map[string]string{"Range": "bytes=2-4", "If-Range": `"old"`}, 200, "0123456789", nil},
		{"if-range ok", "GET", "/data.bin", map[string]string{"Range": "bytes=2-4", "If-Range": etag}, 206, "234", nil},
		{"big range", "GET", "/big.bin", map[string]string{"Range": "bytes=16-31"}, 206, "0123456789abcdef", nil},
		{"br preferred", "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip, deflate, br, zstd"}, 200, "BR", map[string]string{"Content-Encoding": "br", "Vary": "Accept-Encoding", "Content-Length": "2", "Content-Type": "text/javascript; charset=utf-8"}},
		{"zstd", "GET", "/app.js", map[string]string{"Accept-Encoding": "zstd, gzip;q=0.5"}, 200, "ZSTD", map[string]string{"Content-Encoding": "zstd"}},
		{"gzip", "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip"}, 200, "", map[string]string{"Content-Encoding": "gzip", "Etag": gzETag}},
		{"br refused", "GET", "/app.js", map[string]string{"Accept-Encoding": "br;q=0, gzip"}, 200, "", map[string]string{"Content-Encoding": "gzip"}},
		{"identity", "GET", "/app.js", nil, 200, strings.Repeat("x", 1000), map[string]string{"Content-Encoding": "", "Vary": "Accept-Encoding", "Content-Length": "1000"}},
		{"no vary without sidecar", "GET", "/style.css", map[string]string{"Accept-Encoding": "gzip"}, 200, "", map[string]string{"Vary": "", "Content-Encoding": ""}},
		{"sidecar 304", "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzETag}, 304, "", map[string]string{"Vary": "Accept-Encoding"}},
		{"alias", "GET", "/img/pic.png", nil, 200, "PNG", map[string]string{"Content-Type": "image/png"}},
		{"longest alias", "GET", "/img/deep/x.txt", nil, 200, "longer alias", nil},
		{"alias prefix only", "GET", "/imgx/pic.png", nil, 404, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, f, tc.method, tc.target, tc.hdr)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tc.status, w.Body.String())
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("body %q, want %q", w.Body.String(), tc.body)
			}
			for k, v := range tc.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if etag == gzETag || etag == "" {
		t.Errorf("sidecar ETag %q must differ from the file's %q", gzETag, etag)
	}
}

func TestStaticMultiRange(t *testing.T) {
	f := staticFront(t, spec.Front{})
	for _, target := range []string{"/data.bin", "/big.bin"} {
		w := do(t, f, "GET", target, map[string]string{"Range": "bytes=0-1,4-5"})
		if w.Code != 206 || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
			t.Fatalf("%s: %d %q", target, w.Code, w.Header().Get("Content-Type"))
		}
		if !strings.Contains(w.Body.String(), "Content-Range: bytes 4-5/") {
			t.Errorf("%s: body lacks the second part: %q", target, w.Body.String())
		}
	}
}

func TestStaticListing(t *testing.T) {
	f := staticFront(t, spec.Front{DirListing: true})
	w := do(t, f, "GET", "/list/", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `href="a.txt"`) || strings.Contains(w.Body.String(), "hidden") {
		t.Fatalf("listing %d: %s", w.Code, w.Body.String())
	}
}

func TestStaticBigFile(t *testing.T) {
	f := staticFront(t, spec.Front{})
	w := do(t, f, "GET", "/big.bin", nil)
	if w.Code != 200 || w.Body.Len() != 640<<10 || w.Header().Get("Content-Length") != strconv.Itoa(640<<10) {
		t.Fatalf("big file: %d, %d bytes", w.Code, w.Body.Len())
	}
}

func TestStaticCacheRevalidates(t *testing.T) {
	root := tree(t, map[string]string{"a.txt": "one"})
	f := newFront(t, spec.Front{Root: root}, Options{StatTTL: time.Millisecond})
	if b := do(t, f, "GET", "/a.txt", nil).Body.String(); b != "one" {
		t.Fatalf("got %q", b)
	}
	time.Sleep(5 * time.Millisecond)
	writeFile(t, root+"/a.txt", "two!")
	if b := do(t, f, "GET", "/a.txt", nil).Body.String(); b != "two!" {
		t.Fatalf("after change got %q", b)
	}
}

// TestStaticSymlinkToHidden: a symlink inside the root that leads to a
// dot-file or into a dot-directory is refused like the hidden path itself
// (before, /link served .env); links to ordinary files still work, and so
// does one into .well-known at the top.
func TestStaticSymlinkToHidden(t *testing.T) {
	root := tree(t, map[string]string{
		".env": "SECRET=1", ".git/config": "[core]", "sub/.htpasswd": "u:p", "a.txt": "plain",
		".well-known/x.txt": "acme", "big/.big.bin": strings.Repeat("s", maxCachedFile+1),
	})
	for link, target := range map[string]string{
		"env.txt": ".env", "repo": ".git", "sub/pw.txt": ".htpasswd", "b.txt": "a.txt",
		"wk.txt": ".well-known/x.txt", "big.bin": "big/.big.bin", "deep.txt": "sub/../.env",
	} {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	f := newFront(t, spec.Front{Root: root, DirListing: true}, Options{})
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/env.txt", 404}, {"/repo/config", 404}, {"/repo/", 404}, {"/repo", 404}, {"/sub/pw.txt", 404},
		{"/big.bin", 404}, {"/deep.txt", 404}, {"/b.txt", 200}, {"/wk.txt", 200},
	} {
		w := do(t, f, "GET", tc.target, nil)
		if w.Code != tc.status || strings.Contains(w.Body.String(), "SECRET") || strings.Contains(w.Body.String(), "core") {
			t.Errorf("%s: %d %.40q, want %d", tc.target, w.Code, w.Body.String(), tc.status)
		}
	}
}
