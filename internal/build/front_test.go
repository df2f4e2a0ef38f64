package build

import (
	"reflect"
	"testing"

	"github.com/mkimage/mkimage/spec"
)

func TestDeriveFront(t *testing.T) {
	cfg, _ := testConfig(t, `[web]
root = "www"
dir_listing = true
read_header_timeout = "5s"
max_body_bytes = 1000000
tls_dir = "tls"
[[web.cache_control]]
prefix = "/img"
value = "max-age=60"
[web.fastcgi]
response_timeout = "1m30s"
keep_conn = "off"
[[web.alias]]
prefix = "/img"
dir = "www/img"
host = "^a$"
`)
	front, trees := deriveFront(cfg)
	want := spec.Front{
		Listen: ":80", Root: spec.WebRoot, Index: []string{"index.html"}, DirListing: true,
		ReadHeaderTimeoutMS: 5000, MaxBodyBytes: 1000000,
		CacheControl: []spec.CacheRule{{Prefix: "/img", Value: "max-age=60"}},
		Aliases:      []spec.Alias{{Prefix: "/img", Dir: "/srv/alias/0", Host: "^a$"}},
		TLSCert:      "/etc/mkimage/tls/cert.pem", TLSKey: "/etc/mkimage/tls/key.pem", RedirectHTTP: true,
		FastCGI: spec.FastCGI{ResponseTimeoutMS: 90000, KeepConn: "off"},
		TempDir: "/data/spool",
	}
	if !reflect.DeepEqual(front, want) {
		t.Errorf("front\n got %+v\nwant %+v", front, want)
	}
	if len(trees) != 3 || trees[2].Target != "/etc/mkimage/tls" {
		t.Errorf("trees %+v", trees)
	}
}
