package httpfront

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/spec"
)

// tree writes files (path -> content) under a new temp dir and returns it.
func tree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newFront builds a Front for cfg and closes it with the test.
func newFront(t testing.TB, cfg spec.Front, opt Options) *Front {
	t.Helper()
	if opt.Logf == nil {
		opt.Logf = t.Logf
	}
	f, err := NewWithOptions(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// rawRequest parses a request whose target is written verbatim, as a
// client could send it; ok is false when Go's server would refuse it
// before any handler runs.
func rawRequest(method, target string, hdr map[string]string) (*http.Request, bool) {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: example.test\r\n")
	for k, v := range hdr {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		return nil, false
	}
	r.RemoteAddr = "192.0.2.1:4321"
	return r, true
}

// do serves one request and returns the recorded response.
func do(t testing.TB, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r, ok := rawRequest(method, target, hdr)
	if !ok {
		t.Fatalf("request %s %q does not parse", method, target)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func writeFile(t testing.TB, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeCert writes c as PEM files and returns their paths.
func writeCert(t testing.TB, c tls.Certificate) (string, string) {
	t.Helper()
	dir := t.TempDir()
	var certPEM []byte
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir+"/cert.pem", string(certPEM))
	writeFile(t, dir+"/key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})))
	return dir + "/cert.pem", dir + "/key.pem"
}
