package build

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/kernel"
	"github.com/mkimage/mkimage/spec"
)

// certSpec is a certificate for the tests: self-signed unless signer is
// set.
type certSpec struct {
	names               []string
	notBefore, notAfter time.Time
	ca                  bool
}

var (
	longAgo  = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	farAhead = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func validFor(names ...string) certSpec {
	return certSpec{names: names, notBefore: longAgo, notAfter: time.Now().Add(365 * 24 * time.Hour)}
}

// makeCert returns a certificate and its key, both PEM.
func makeCert(t *testing.T, cs certSpec) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, DNSNames: cs.names,
		NotBefore: cs.notBefore, NotAfter: cs.notAfter, IsCA: cs.ca, BasicConstraintsValid: cs.ca,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// writeCert writes cert.pem and key.pem into dir.
func writeCert(t *testing.T, dir string, certPEM, keyPEM []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// ACME becomes the front end's ACME spec: state on /data, the redirect on
// by default, the private CA's roots copied into the image and named.
func TestDeriveACME(t *testing.T) {
	roots, _ := makeCert(t, certSpec{notBefore: longAgo, notAfter: farAhead, ca: true})
	cfg, dir := testConfig(t, `[web]
root = "www"
[web.tls]
acme = true
domains = ["example.org", "www.example.org"]
email = "ops@example.org"
ca = "https://pebble.test:14000/dir"
ca_roots = "roots.pem"
hsts = "max-age=31536000"
`, "roots.pem", string(roots))
	p, err := derive(cfg, board.Board{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &spec.ACME{
		Domains: []string{"example.org", "www.example.org"}, Email: "ops@example.org",
		CA: "https://pebble.test:14000/dir", CARoots: "/etc/mkimage/acme-ca-roots.pem",
		StorageDir: "/data/mkimage/acme",
	}
	if !reflect.DeepEqual(p.front.ACME, want) {
		t.Errorf("acme\n got %+v\nwant %+v", p.front.ACME, want)
	}
	if !p.front.RedirectHTTP || p.front.HSTS != "max-age=31536000" {
		t.Errorf("redirect %v, hsts %q; want on, max-age=31536000", p.front.RedirectHTTP, p.front.HSTS)
	}
	if p.front.TLSCert != "" || p.front.TLSKey != "" || p.front.TLSListen != ":443" && p.front.TLSListen != "" {
		t.Errorf("acme with a certificate of its own: %+v", p.front)
	}
	var copied []byte
	for _, f := range p.files {
		if f.Target == "/etc/mkimage/acme-ca-roots.pem" {
			copied = f.Data
		}
	}
	if string(copied) != string(roots) {
		t.Errorf("the CA roots are not in the image as /etc/mkimage/acme-ca-roots.pem: %q", copied)
	}
	for _, tr := range p.trees {
		if tr.Target == tlsDir {
			t.Errorf("acme copies tls/ into the image: %+v", tr)
		}
	}
	out := describeTLS(t, p)
	for _, w := range []string{
		"https     acme for example.org, www.example.org from https://pebble.test:14000/dir, on :443 and :80 (HTTP-01), state in /data/mkimage/acme\n",
		"https     the CA's HTTPS roots from " + filepath.Join(dir, "roots.pem") + " in /etc/mkimage/acme-ca-roots.pem\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the plan lacks %q:\n%s", w, out)
		}
	}

	// redirect_http = false reaches the spec; no ca is Let's Encrypt.
	cfg, dir = testConfig(t, "[web]\nroot = \"www\"\n[web.tls]\nacme = true\ndomains = [\"a.example\"]\nredirect_http = false\nlisten = \":8443\"\n")
	if p, err = derive(cfg, board.Board{}, dir); err != nil {
		t.Fatal(err)
	}
	if a := p.front.ACME; a == nil || p.front.RedirectHTTP || a.CA != "" || a.CARoots != "" || p.front.TLSListen != ":8443" {
		t.Errorf("acme %+v, listen %q", a, p.front.TLSListen)
	}
	if out := describeTLS(t, p); !strings.Contains(out, "https     acme for a.example from https://acme-v02.api.letsencrypt.org/directory (Let's Encrypt), on :8443") {
		t.Errorf("plan:\n%s", out)
	}
}

func describeTLS(t *testing.T, p plan) string {
	t.Helper()
	var b strings.Builder
	if err := p.describe(&b, board.Board{Name: "test"}, kernel.Kernel{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A bad CA roots file is a config error naming it.
func TestACMERootsNotPEM(t *testing.T) {
	cfg, dir := testConfig(t, "[web]\nroot = \"www\"\n[web.tls]\nacme = true\ndomains = [\"a.example\"]\nca = \"https://ca.test/dir\"\nca_roots = \"roots.pem\"\n", "roots.pem", "not pem\n")
	_, err := derive(cfg, board.Board{}, dir)
	want := "DIR/appliance.toml:7:1: web.tls.ca_roots: DIR/roots.pem is not a PEM file of certificates"
	if err == nil || !strings.HasPrefix(strings.ReplaceAll(err.Error(), dir, "DIR"), want) {
		t.Errorf("error %v, want %s...", err, want)
	}
}

// Each mistake in a certificate of one's own stops the build with an
// error at the key that names the file (gokrazy #130: a device came up
// without HTTPS because of a bad certificate).
func TestCertChecks(t *testing.T) {
	good, goodKey := makeCert(t, validFor("example.org", "www.example.org"))
	_, otherKey := makeCert(t, validFor("example.org"))
	wild, wildKey := makeCert(t, validFor("*.example.org", "example.org"))
	soon, soonKey := makeCert(t, certSpec{names: []string{"example.org"}, notBefore: longAgo, notAfter: time.Now().Add(5 * 24 * time.Hour)})
	expired, expiredKey := makeCert(t, certSpec{names: []string{"example.org"}, notBefore: longAgo, notAfter: time.Date(2021, 6, 1, 12, 0, 0, 0, time.UTC)})
	future, futureKey := makeCert(t, certSpec{names: []string{"example.org"}, notBefore: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), notAfter: farAhead})
	caCert, caKey := makeCert(t, certSpec{notBefore: longAgo, notAfter: farAhead, ca: true})
	expiredCA, expiredCAKey := makeCert(t, certSpec{notBefore: longAgo, notAfter: time.Date(2021, 6, 1, 12, 0, 0, 0, time.UTC), ca: true})
	block, _ := pem.Decode(good)
	kblock, _ := pem.Decode(goodKey)
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: kblock.Bytes})
	pkcs8Encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: kblock.Bytes})

	const withDomains = "[web]\nroot = \"www\"\n[web.tls]\ndir = \"tls\"\ndomains = [\"example.org\", \"www.example.org\"]\n"
	const oldName = "[web]\nroot = \"www\"\ntls_dir = \"tls\"\n"
	tests := []struct {
		name, config string
		cert, key    []byte
		want         string // the error, DIR for the directory; "" none
		plan         []string
	}{
		{"good", withDomains, good, goodKey, "", []string{"https     certificate for example.org, www.example.org, valid until "}},
		{"wildcard certificate", withDomains, wild, wildKey, "", nil},
		{"older name, no domains", oldName, good, goodKey, "", []string{"https     note: set [web.tls] domains"}},
		{"expires soon", oldName, soon, soonKey, "", []string{"https     warning: the certificate expires in 5 days"}},
		{"chain", withDomains, append(append([]byte{}, good...), caCert...), goodKey, "", nil},
		{"other names", withDomains, soon, soonKey,
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/cert.pem is for example.org, not for www.example.org ([web.tls] domains)", nil},
		{"expired", oldName, expired, expiredKey,
			"DIR/appliance.toml:3:1: web.tls_dir: DIR/tls/cert.pem (example.org) expired on 2021-06-01T12:00:00Z", nil},
		{"not yet valid", withDomains, future, futureKey,
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/cert.pem (example.org) is not valid before 2099-01-01T00:00:00Z", nil},
		{"expired, other names, CA first", withDomains, append(append([]byte{}, expiredCA...), caCert...), expiredCAKey,
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/cert.pem starts with a CA's certificate (CN=test): put the server's own first, then its chain\n" +
				"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/cert.pem (subject CN=test, no DNS names) expired on 2021-06-01T12:00:00Z\n" +
				"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/cert.pem is for subject CN=test, no DNS names, not for example.org, www.example.org ([web.tls] domains)", nil},
		{"mismatched key", withDomains, good, otherKey,
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/key.pem does not match the certificate in DIR/tls/cert.pem (example.org, www.example.org): they are not a pair", nil},
		{"certificate in DER", withDomains, block.Bytes, goodKey,
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/cert.pem is not a PEM file of certificates (-----BEGIN CERTIFICATE-----); convert DER with `openssl x509 -inform der -in cert.der -out cert.pem`", nil},
		{"key not PEM", withDomains, good, []byte("hello\n"),
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/key.pem is not a PEM file (-----BEGIN PRIVATE KEY-----)", nil},
		{"encrypted key", withDomains, good, pkcs8Encrypted,
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/key.pem is encrypted with a passphrase, which nobody can type at boot: decrypt it into another file, `openssl pkey -in key.pem -out plain.pem`, and put that in its place", nil},
		{"encrypted legacy key", withDomains, good, legacyEncrypted,
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/key.pem is encrypted with a passphrase", nil},
		{"files swapped", withDomains, goodKey, good,
			"DIR/appliance.toml:4:1: web.tls.dir: DIR/tls/cert.pem holds a private key (PRIVATE KEY): certificates go there, the key in key.pem", nil},
		{"CA first", oldName, append(append([]byte{}, caCert...), good...), caKey,
			"DIR/appliance.toml:3:1: web.tls_dir: DIR/tls/cert.pem starts with a CA's certificate (CN=test): put the server's own first, then its chain", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, dir := testConfig(t, tc.config)
			writeCert(t, filepath.Join(dir, "tls"), tc.cert, tc.key)
			p, err := derive(cfg, board.Board{}, dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if p.front.TLSCert != "/etc/mkimage/tls/cert.pem" || p.front.TLSKey != "/etc/mkimage/tls/key.pem" || p.front.ACME != nil {
					t.Errorf("front %+v", p.front)
				}
				out := describeTLS(t, p)
				for _, w := range tc.plan {
					if !strings.Contains(out, w) {
						t.Errorf("the plan lacks %q:\n%s", w, out)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if got := strings.ReplaceAll(err.Error(), dir, "DIR"); !strings.HasPrefix(got, tc.want) {
				t.Errorf("error\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
