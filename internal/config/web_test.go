package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWebKeys(t *testing.T) {
	const base = "[web]\nroot = \"www\"\n"
	tests := []struct {
		name, extra, wantErr string
	}{
		{"full", `dir_listing = true
access_log = "off"
read_header_timeout = "5s"
write_timeout = "1m"
max_header_bytes = 8192
max_body_bytes = 1048576
[[web.cache_control]]
prefix = "/assets"
ext = [".css", ".js"]
value = "max-age=3600"
[web.fastcgi]
response_timeout = "30s"
keep_conn = "on"
x_sendfile = ["/srv/www/dl"]
[[web.alias]]
prefix = "/img"
dir = "www/img"
host = "^img\\."
`, ""},
		{"bad duration", `idle_timeout = "soon"`, "web.idle_timeout"},
		{"bad access log", `access_log = "file"`, "web.access_log"},
		{"bad header size", `max_header_bytes = 10`, "web.max_header_bytes"},
		{"bad keep_conn", "[web.fastcgi]\nkeep_conn = \"yes\"", "web.fastcgi.keep_conn"},
		{"relative x_sendfile", "[web.fastcgi]\nx_sendfile = [\"dl\"]", "web.fastcgi.x_sendfile"},
		{"bad cache prefix", "[[web.cache_control]]\nprefix = \"assets\"\nvalue = \"x\"", "web.cache_control.0.prefix"},
		{"bad ext", "[[web.cache_control]]\nprefix = \"/\"\next = [\"css\"]\nvalue = \"x\"", "web.cache_control.0.ext"},
		{"missing tls", `tls_dir = "nope"`, "web.tls_dir"},
		{"bad tls listen", "tls_listen = \"443\"", "web.tls_listen"},
		{"bad host", "[[web.alias]]\nprefix = \"/img\"\ndir = \"www/img\"\nhost = \"(\"", "web.alias.0.host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, base+tc.extra+"\n"))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

func TestWebTLSDir(t *testing.T) {
	p := writeConfig(t, "[web]\nroot = \"www\"\ntls_dir = \"tls\"\n")
	dir := filepath.Join(filepath.Dir(p), "tls")
	os.MkdirAll(dir, 0o755)
	for _, f := range []string{"cert.pem", "key.pem"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	if _, err := Load(p); err != nil {
		t.Fatal(err)
	}
}
