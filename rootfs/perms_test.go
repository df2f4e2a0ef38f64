package rootfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

func byName(t *testing.T, out []byte) map[string]cpio.Record {
	t.Helper()
	m := map[string]cpio.Record{}
	for _, r := range records(t, out) {
		m[r.Name] = r
	}
	return m
}

// Owners and modes from Perms reach the cpio records: a secret directory
// readable only by its user, the rest of the tree untouched.
func TestPerms(t *testing.T) {
	dir := testTree(t)
	out := build(t, Options{
		Trees: []Tree{{Source: dir, Target: "/srv/www"}, {Source: dir, Target: "/etc/tls"}},
		Files: []File{{Target: "/etc/spec.json", Data: []byte("{}"), Mode: 0o644}},
		Perms: []Perm{
			{Path: "/etc/tls", UID: 33, GID: 33, Mode: 0o600},
			{Path: "/etc/spec.json", GID: 33, Mode: 0o640},
			{Path: "/srv/www/css", UID: 1000, GID: 1000},
		},
		WorkDir: t.TempDir(),
	})
	recs := byName(t, out)
	want := []struct {
		name     string
		uid, gid uint64
		mode     uint64
	}{
		{"etc/tls", 33, 33, cpio.S_IFDIR | 0o700},
		{"etc/tls/z/y", 33, 33, cpio.S_IFDIR | 0o700},
		{"etc/tls/index.html", 33, 33, cpio.S_IFREG | 0o600},
		{"etc/tls/link.html", 33, 33, cpio.S_IFLNK | 0o777},
		{"etc/spec.json", 0, 33, cpio.S_IFREG | 0o640},
		{"etc", 0, 0, cpio.S_IFDIR | 0o755},
		{"srv/www/css", 1000, 1000, cpio.S_IFDIR | 0o755},
		{"srv/www/css/a.css", 1000, 1000, cpio.S_IFREG | 0o644},
		{"srv/www/index.html", 0, 0, cpio.S_IFREG | 0o644},
	}
	for _, w := range want {
		r, ok := recs[w.name]
		if !ok {
			t.Errorf("%s missing", w.name)
			continue
		}
		if r.UID != w.uid || r.GID != w.gid || r.Mode != w.mode {
			t.Errorf("%s: uid %d gid %d mode %o, want %d %d %o", w.name, r.UID, r.GID, r.Mode, w.uid, w.gid, w.mode)
		}
	}
	var buf bytes.Buffer
	_, err := Build(context.Background(), Options{Perms: []Perm{{Path: "/etc/nope", Mode: 0o600}}, WorkDir: t.TempDir()}, &buf)
	if err == nil || !strings.Contains(err.Error(), "/etc/nope") {
		t.Errorf("a permission for a missing path: err = %v", err)
	}
}

// Two sources putting something at one path fail the build, naming both;
// the same host file listed twice, and shared directories, do not.
func TestConflicts(t *testing.T) {
	const exe = "/bin/true" // a dynamic x86_64 executable, as php-cgi is
	if _, err := os.Stat("/lib64/ld-linux-x86-64.so.2"); err != nil {
		t.Skip("not an x86_64 glibc host")
	}
	dir := testTree(t)
	tests := []struct {
		name string
		o    Options
		want string // "" = no error
	}{
		{"app over the front end", Options{Programs: []Program{
			{Name: "httpfront", File: exe, Target: "/bin/httpfront"},
			{Name: "app-httpfront", File: exe, Target: "/bin/httpfront"},
		}}, "program httpfront and by program app-httpfront"},
		{"host file over a tree", Options{Trees: []Tree{{Source: dir, Target: dir}}, HostFiles: []string{filepath.Join(dir, "index.html")}},
			"/index.html is put into the image twice"},
		{"tree over the spec", Options{Trees: []Tree{{Source: dir, Target: "/etc/mkimage"}}, Files: []File{{Target: "/etc/mkimage/index.html", Data: []byte("{}"), Mode: 0o644}}},
			"the tool's /etc/mkimage/index.html"},
		{"file over a directory", Options{Trees: []Tree{{Source: dir, Target: "/srv"}}, Files: []File{{Target: "/srv/css", Data: nil, Mode: 0o644}}},
			"/srv/css is put into the image twice"},
		{"same host file twice", Options{HostFiles: []string{filepath.Join(dir, "index.html"), filepath.Join(dir, "index.html")}}, ""},
		{"two trees side by side", Options{Trees: []Tree{{Source: dir, Target: "/srv/a"}, {Source: dir, Target: "/srv/b"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.GOARCH, tt.o.WorkDir = "amd64", t.TempDir()
			var buf bytes.Buffer
			_, err := Build(context.Background(), tt.o, &buf)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}
