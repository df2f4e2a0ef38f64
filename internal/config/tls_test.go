package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTLSConfig writes a config beside www/, tls/ (cert.pem, key.pem:
// config only checks they exist) and roots.pem.
func writeTLSConfig(t *testing.T, body string) string {
	t.Helper()
	p := writeConfig(t, body)
	dir := filepath.Dir(p)
	os.MkdirAll(filepath.Join(dir, "tls"), 0o755)
	for _, f := range []string{"tls/cert.pem", "tls/key.pem", "roots.pem"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	return p
}

func TestWebTLS(t *testing.T) {
	const base = "[web]\nroot = \"www\"\n"
	tests := []struct {
		name, body string
		want       []string // each a line of the error, after "DIR/appliance.toml:"
	}{
		{"acme", `[web.tls]
acme = true
domains = ["example.org", "www.example.org", "xn--bcher-kva.example"]
email = "ops@example.org"
ca = "https://acme-staging-v02.api.letsencrypt.org/directory"
ca_roots = "roots.pem"
redirect_http = false
hsts = "max-age=63072000; includeSubDomains; preload"
listen = ":8443"
`, nil},
		{"acme on a loopback http CA", "[web.tls]\nacme = true\ndomains = [\"a.test\"]\nca = \"http://127.0.0.1:14000/dir\"\n", nil},
		{"own certificate", "[web.tls]\ndir = \"tls\"\ndomains = [\"example.org\"]\nlisten = \"127.0.0.1:443\"\n", nil},
		{"older names", "tls_dir = \"tls\"\ntls_listen = \":8443\"\n", nil},
		{"acme without domains", "[web.tls]\nacme = true\n", []string{
			`3:2: web.tls.domains: acme needs domains`}},
		{"bad domains", `[web.tls]
acme = true
domains = ["*.example.org", "Example.org", "192.0.2.1", "a..b", "ok.example", "ok.example", "x.org.", "-a.org"]
`, []string{
			`5:1: web.tls.domains: "*.example.org": a wildcard needs the DNS-01 challenge`,
			`5:1: web.tls.domains: "Example.org": write it in lower case, "example.org"`,
			`5:1: web.tls.domains: "192.0.2.1": an IP address`,
			`5:1: web.tls.domains: "a..b": not a DNS name`,
			`5:1: web.tls.domains: "ok.example" is listed twice`,
			`5:1: web.tls.domains: "x.org.": write the name without the trailing dot`,
			`5:1: web.tls.domains: "-a.org": not a DNS name`,
		}},
		{"several at once", `[web.tls]
acme = true
dir = "tls"
domains = ["example.org"]
email = "Ops <ops@example.org>"
ca = "http://ca.example/dir"
hsts = "max-age=60; preload"
listen = ":80"
`, []string{
			`4:1: web.tls.acme: acme gets its own certificates: remove web.tls.dir`,
			`7:1: web.tls.email: "Ops <ops@example.org>" is not an email address`,
			`8:1: web.tls.ca: "http://ca.example/dir": the CA must be reached over https://`,
			`9:1: web.tls.hsts: "max-age=60; preload": preload needs includeSubDomains`,
			`10:1: web.tls.listen: ":80": port 80 is the front end's plain HTTP`,
		}},
		{"acme keys without acme", `[web.tls]
dir = "tls"
email = "ops@example.org"
hsts = "max-age=60"
redirect_http = true
`, []string{
			`5:1: web.tls.email: email applies to acme = true only`,
		}},
		{"https keys without https", `[web.tls]
hsts = "max-age=60"
redirect_http = true
`, []string{
			`4:1: web.tls.hsts: hsts needs HTTPS: acme = true, or dir`,
			`5:1: web.tls.redirect_http: redirect_http needs HTTPS`,
		}},
		{"domains alone", "[web.tls]\ndomains = [\"example.org\"]\n", []string{
			`4:1: web.tls.domains: domains need acme = true, or dir`}},
		{"both names", "tls_dir = \"tls\"\ntls_listen = \":443\"\n[web.tls]\ndir = \"tls\"\nlisten = \":8443\"\n", []string{
			`6:1: web.tls.dir: set either [web.tls] dir or [web] tls_dir`,
			`7:1: web.tls.listen: set either [web.tls] listen or [web] tls_listen`,
		}},
		{"missing files", "[web.tls]\nacme = true\ndomains = [\"a.org\"]\nca_roots = \"nope.pem\"\n", []string{
			`6:1: web.tls.ca_roots: ca_roots needs ca`,
			`6:1: web.tls.ca_roots: DIR/nope.pem is not a readable file`,
		}},
		{"no certificate in dir", "[web.tls]\ndir = \"www\"\n", []string{
			`4:1: web.tls.dir: DIR/www has no cert.pem`,
			`4:1: web.tls.dir: DIR/www has no key.pem`,
		}},
		{"bad hsts and ca", "[web.tls]\nacme = true\ndomains = [\"a.org\"]\nhsts = \"max-age=1; includeSubDomains; includeSubDomains\"\nca = \"ftp://x\"\n", []string{
			`6:1: web.tls.hsts: "max-age=1; includeSubDomains; includeSubDomains": includeSubDomains twice`,
			`7:1: web.tls.ca: "ftp://x": want an https:// URL`,
		}},
		{"hsts syntax", "[web.tls]\nacme = true\ndomains = [\"a.org\"]\nhsts = \"max-age=abc\"\n", []string{
			`6:1: web.tls.hsts: "max-age=abc": want "max-age=SECONDS"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTLSConfig(t, base+tc.body)
			_, err := Load(p)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			lines := strings.Split(strings.ReplaceAll(err.Error(), filepath.Dir(p), "DIR"), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%s", len(lines), len(tc.want), strings.Join(lines, "\n"))
			}
			for i, w := range tc.want {
				if i >= len(lines) || !strings.HasPrefix(lines[i], "DIR/appliance.toml:"+w) {
					t.Errorf("error %d:\n got %q\nwant DIR/appliance.toml:%s...", i, lines[min(i, len(lines)-1)], w)
				}
			}
		})
	}
}

// tls_listen keeps counting against [update] listen's port, and so does
// [web.tls] listen with acme.
func TestTLSPort(t *testing.T) {
	for body, want := range map[string]int{
		"[web]\nroot = \"www\"\n":                                                        0,
		"[web]\nroot = \"www\"\ntls_dir = \"tls\"\n":                                     443,
		"[web]\nroot = \"www\"\ntls_dir = \"tls\"\ntls_listen = \":8443\"\n":             8443,
		"[web]\nroot = \"www\"\n[web.tls]\nacme = true\ndomains = [\"a.org\"]\n":         443,
		"[web]\nroot = \"www\"\n[web.tls]\ndir = \"tls\"\nlisten = \"127.0.0.1:4443\"\n": 4443,
	} {
		c, err := Load(writeTLSConfig(t, body))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.tlsPort(); got != want {
			t.Errorf("%q: tlsPort %d, want %d", body, got, want)
		}
	}
}
