package docs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// The guide's ACME config builds into an image whose front end gets its
// own certificates: the domains, the state on /data, the redirect on, and
// no certificate of its own.
func TestHTTPSACME(t *testing.T) {
	a := buildAppliance(t, "https-acme")
	acme := a.front.ACME
	if acme == nil {
		t.Fatalf("front spec without acme: %+v", a.front)
	}
	if !slices.Equal(acme.Domains, []string{"example.org", "www.example.org"}) || acme.Email != "ops@example.org" ||
		acme.CA != "" || acme.CARoots != "" || acme.StorageDir != spec.ACMEStorageDir || !a.front.RedirectHTTP || a.front.HSTS != "" {
		t.Errorf("acme in the image: %+v", acme)
	}
	if a.front.Listen != ":80" || a.front.TLSCert != "" || a.front.TLSKey != "" {
		t.Errorf("front: listen %q (HTTP-01 needs :80), cert %q, key %q", a.front.Listen, a.front.TLSCert, a.front.TLSKey)
	}
}

// The guide's own-certificate config builds with a certificate in tls/:
// the image carries it and names it in the front end's spec; the dry run
// says what it is for and until when; an expired one stops the build with
// an error that names the file.
func TestHTTPSOwn(t *testing.T) {
	tl := mkimage(t)
	s := newSite(t)
	tls := filepath.Join(s.Dir, "tls")
	cert := writeTestCert(t, tls, time.Now().Add(90*24*time.Hour))
	cfg := filepath.Join(s.Dir, "appliance.toml")
	write(t, cfg, guideBlock(t, "https-own"))

	cmd := tl.Command("build", "-c", cfg, "-dry-run")
	cmd.Dir = s.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mkimage build -dry-run: %v\n%s", err, out)
	}
	if want := "https     certificate for example.org, www.example.org, valid until " + time.Now().Add(90*24*time.Hour).UTC().Format(time.DateOnly); !strings.Contains(string(out), want) {
		t.Errorf("the dry run lacks %q:\n%s", want, out)
	}

	outDir := filepath.Join(s.Dir, "out")
	cmd = tl.Command("build", "-c", cfg, "-o", outDir)
	cmd.Dir = s.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage build: %v\n%s", err, out)
	}
	files := readInitramfs(t, filepath.Join(outDir, "qemu-x86_64", "initramfs.cpio.zst"), spec.FrontPath, "/etc/mkimage/tls/cert.pem", "/etc/mkimage/tls/key.pem")
	var front spec.Front
	if err := json.Unmarshal(files[spec.FrontPath], &front); err != nil {
		t.Fatal(err)
	}
	if front.TLSCert != "/etc/mkimage/tls/cert.pem" || front.TLSKey != "/etc/mkimage/tls/key.pem" || front.ACME != nil {
		t.Errorf("front spec: cert %q, key %q, acme %+v", front.TLSCert, front.TLSKey, front.ACME)
	}
	if string(files["/etc/mkimage/tls/cert.pem"]) != string(cert) {
		t.Errorf("the image's cert.pem is not tls/cert.pem")
	}

	writeTestCert(t, tls, time.Now().Add(-time.Hour))
	cmd = tl.Command("build", "-c", cfg, "-o", outDir)
	cmd.Dir = s.Dir
	out, err = cmd.CombinedOutput()
	if want := filepath.Join(tls, "cert.pem") + " (example.org, www.example.org) expired on "; err == nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), "web.tls.dir: ") {
		t.Errorf("a build with an expired certificate: %v, want an error at web.tls.dir with %q:\n%s", err, want, out)
	}
}

// writeTestCert writes a self-signed cert.pem for the guide's domain (and
// www.) and its key.pem into dir, and returns cert.pem.
func writeTestCert(t *testing.T, dir string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.org"},
		DNSNames:  []string{"example.org", "www.example.org"},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	write(t, filepath.Join(dir, "cert.pem"), string(cert))
	write(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	return cert
}
