//go:build !noacme

package httpfront

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/pebbletest"
	"github.com/mkimage/mkimage/spec"
)

// acmeSite is a document root, a storage directory and two free ports.
type acmeSite struct {
	root, storage     string
	httpPort, tlsPort int
}

func newAcmeSite(t *testing.T) acmeSite {
	t.Helper()
	s := acmeSite{root: t.TempDir(), storage: t.TempDir(), httpPort: freePort(t), tlsPort: freePort(t)}
	if err := os.WriteFile(filepath.Join(s.root, "index.html"), []byte("hello over acme\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s acmeSite) acme(p *pebbletest.Pebble, domain string) spec.ACME {
	return spec.ACME{Domains: []string{domain}, Email: "ops@example.com", CA: p.Dir, CARoots: p.Roots, StorageDir: s.storage}
}

// getHTTPS fetches https://domain/ and checks it is the site over HTTP/2
// and TLS 1.2+; it returns the served certificate's serial.
func getHTTPS(t *testing.T, c *http.Client, domain string) (string, *http.Response) {
	t.Helper()
	resp, err := c.Get("https://" + domain + "/")
	if err != nil {
		t.Fatalf("GET https://%s/: %v", domain, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello over acme\n" {
		t.Fatalf("GET https://%s/: %d %q", domain, resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("GET https://%s/: %s, TLS %x; want HTTP/2 and TLS 1.2+", domain, resp.Proto, resp.TLS.Version)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if err := leaf.VerifyHostname(domain); err != nil {
		t.Errorf("served certificate: %v", err)
	}
	return fmt.Sprintf("%x", leaf.SerialNumber), resp
}

func haveCert(cs CertStatus) bool { return cs.HaveCert }

var domainSeq atomic.Int64

// testDomain is a name no earlier run in this process used: certmagic
// keeps its renewal back-off per name process-wide (-count=2).
func testDomain(prefix string) string {
	return fmt.Sprintf("%s-%d.example.com", prefix, domainSeq.Add(1))
}

// TestACMEHTTP01 obtains a certificate from pebble with HTTP-01 (through
// the front end's own HTTP listener), serves HTTPS with it, and serves it
// again after a restart with the same storage while pebble is down.
func TestACMEHTTP01(t *testing.T) {
	site := newAcmeSite(t)
	// pebble's TLS-ALPN-01 would reach a closed port: only HTTP-01 works.
	p := startPebble(t, site.httpPort, freePort(t), 90*24*time.Hour)
	roots := p.IssuingRoots(t)
	domain := testDomain("h01")
	start := time.Now()
	a := startAcmeFront(t, acmeSpec(site.root, site.acme(p, domain), site.httpPort, site.tlsPort), acmeOptions{noTLSALPN01: true}, true)
	cs := a.waitStatus(t, domain, 90*time.Second, haveCert)
	t.Logf("HTTP-01: first certificate after %v (not after %s)", time.Since(start).Round(time.Millisecond), cs.NotAfter)
	serial, _ := getHTTPS(t, a.httpsClient(roots), domain)
	if serial != cs.Serial || p.Issued() != 1 {
		t.Fatalf("served serial %s, status %s, pebble issued %d; want the same serial, one issued", serial, cs.Serial, p.Issued())
	}
	if cs.LastError != "" || cs.NextRenewal.Before(cs.NotAfter.Add(-31*24*time.Hour)) {
		t.Errorf("status %+v: want no error and a renewal about 30 days before expiry", cs)
	}

	// Restart: the same storage, pebble gone.
	a.stop()
	p.Stop()
	start = time.Now()
	b := startAcmeFront(t, acmeSpec(site.root, site.acme(p, domain), site.httpPort, site.tlsPort), acmeOptions{noTLSALPN01: true}, true)
	b.waitStatus(t, domain, 10*time.Second, haveCert)
	again, _ := getHTTPS(t, b.httpsClient(roots), domain)
	t.Logf("restart: serving the stored certificate after %v", time.Since(start).Round(time.Millisecond))
	if again != serial {
		t.Fatalf("after a restart: serial %s, want the stored %s", again, serial)
	}
}

// TestACMETLSALPN01 obtains a certificate with TLS-ALPN-01 alone (the
// challenge answered on the front end's HTTPS listener).
func TestACMETLSALPN01(t *testing.T) {
	site := newAcmeSite(t)
	// pebble's HTTP-01 would reach a closed port: only TLS-ALPN-01 works.
	p := startPebble(t, freePort(t), site.tlsPort, 90*24*time.Hour)
	domain := testDomain("alpn")
	start := time.Now()
	a := startAcmeFront(t, acmeSpec(site.root, site.acme(p, domain), site.httpPort, site.tlsPort), acmeOptions{noHTTP01: true}, true)
	cs := a.waitStatus(t, domain, 90*time.Second, haveCert)
	t.Logf("TLS-ALPN-01: first certificate after %v", time.Since(start).Round(time.Millisecond))
	if serial, _ := getHTTPS(t, a.httpsClient(p.IssuingRoots(t)), domain); serial != cs.Serial {
		t.Fatalf("served serial %s, status says %s", serial, cs.Serial)
	}
}

// TestACMERenewal: pebble issues 30 s certificates; the front end renews
// before expiry (ARI or a third of the lifetime left) and serves the new
// one.
func TestACMERenewal(t *testing.T) {
	site := newAcmeSite(t)
	p := startPebble(t, site.httpPort, site.tlsPort, 30*time.Second)
	roots := p.IssuingRoots(t)
	domain := testDomain("renew")
	a := startAcmeFront(t, acmeSpec(site.root, site.acme(p, domain), site.httpPort, site.tlsPort), acmeOptions{}, true)
	first := a.waitStatus(t, domain, 90*time.Second, haveCert)
	c := a.httpsClient(roots)
	if serial, _ := getHTTPS(t, c, domain); serial != first.Serial {
		t.Fatalf("served %s, status %s", serial, first.Serial)
	}
	renewed := a.waitStatus(t, domain, 60*time.Second, func(cs CertStatus) bool { return cs.HaveCert && cs.Serial != first.Serial })
	c.CloseIdleConnections()
	serial, _ := getHTTPS(t, c, domain)
	if serial == first.Serial || !renewed.NotAfter.After(first.NotAfter) {
		t.Fatalf("after renewal: serving %s (first %s), not after %s (first %s)", serial, first.Serial, renewed.NotAfter, first.NotAfter)
	}
	if time.Until(first.NotAfter) < 0 {
		t.Errorf("renewed only after the first certificate expired (%s)", first.NotAfter)
	}
	t.Logf("renewed %v before the first certificate's expiry; pebble issued %d", time.Until(first.NotAfter).Round(time.Second), p.Issued())
}

// TestACMERenewalCADown: pebble is gone when the renewal comes; the old
// certificate is still served, the status has the error, logged once.
func TestACMERenewalCADown(t *testing.T) {
	site := newAcmeSite(t)
	p := startPebble(t, site.httpPort, site.tlsPort, 30*time.Second)
	roots := p.IssuingRoots(t)
	domain := testDomain("down")
	// Without ARI the renewal is at a third of the lifetime left (20 s).
	a := startAcmeFront(t, acmeSpec(site.root, site.acme(p, domain), site.httpPort, site.tlsPort), acmeOptions{noARI: true}, true)
	first := a.waitStatus(t, domain, 90*time.Second, haveCert)
	p.Stop()
	failed := a.waitStatus(t, domain, 40*time.Second, func(cs CertStatus) bool { return cs.LastError != "" })
	serial, _ := getHTTPS(t, a.httpsClient(roots), domain)
	if serial != first.Serial || !failed.HaveCert {
		t.Fatalf("after a failed renewal: serving %s, want the old %s; status %+v", serial, first.Serial, failed)
	}
	if !strings.Contains(failed.LastError, "connection refused") || !strings.Contains(failed.Reason, "cannot be reached") || !failed.NextRenewal.After(failed.LastErrorAt) {
		t.Errorf("status %+v: want the CA's error and a later retry", failed)
	}
	time.Sleep(3 * time.Second)
	if n := a.logLines("renewing the certificate for " + domain); n != 1 {
		t.Errorf("%d log lines about the failed renewal, want 1: %q", n, a.log)
	}
	t.Logf("renewal failed at %s, %v before expiry: %s", failed.LastErrorAt.Format(time.TimeOnly), first.NotAfter.Sub(failed.LastErrorAt).Round(time.Second), failed.LastError)
}

// TestACMERedirect: plain HTTP serves the site until a certificate
// exists, then answers 308 to https (not the challenge path); HTTPS
// answers carry HSTS; the status page has an HTTPS section.
func TestACMERedirect(t *testing.T) {
	site := newAcmeSite(t)
	p := startPebble(t, site.httpPort, site.tlsPort, 90*24*time.Hour)
	domain := testDomain("redir")
	cfg := acmeSpec(site.root, site.acme(p, domain), site.httpPort, site.tlsPort)
	cfg.RedirectHTTP, cfg.HSTS = true, "max-age=31536000"
	cfg.Status = spec.StatusPage{Path: "/.status", Socket: fakeInitSock(t), Allow: []string{"127.0.0.0/8"}}
	a := startAcmeFront(t, cfg, acmeOptions{}, false)
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", a.httpPort, path), nil)
		req.Host = domain
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get("/"); resp.StatusCode != 200 {
		t.Fatalf("before any certificate: GET / = %d, want 200", resp.StatusCode)
	}
	a.startTLS(t)
	a.waitStatus(t, domain, 90*time.Second, haveCert)
	resp := get("/a/b?c=1")
	want := fmt.Sprintf("https://%s:%d/a/b?c=1", domain, a.tlsP)
	if resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("with a certificate: GET /a/b?c=1 = %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp := get("/.well-known/acme-challenge/nothing"); resp.StatusCode == 308 {
		t.Errorf("the challenge path was redirected")
	}
	_, hresp := getHTTPS(t, a.httpsClient(p.IssuingRoots(t)), domain)
	if h := hresp.Header.Get("Strict-Transport-Security"); h != cfg.HSTS {
		t.Errorf("HTTPS: Strict-Transport-Security %q, want %q", h, cfg.HSTS)
	}
	checkStatusPage(t, a.httpPort, domain)
}

// checkStatusPage reads the status page (host 127.0.0.1: no redirect)
// and looks for the HTTPS section.
func checkStatusPage(t *testing.T, port int, domain string) {
	t.Helper()
	for path, want := range map[string]string{"/.status": "<h2>HTTPS</h2>", "/.status.json": `"have_cert": true`} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) || !strings.Contains(string(body), domain) {
			t.Errorf("%s: %d, want %q and %s in:\n%s", path, resp.StatusCode, want, domain, body)
		}
	}
}

// TestACMEChallengeUnreachable: the CA validates at ports where nothing
// answers (as when a name's DNS points elsewhere or a firewall is
// closed): the site stays on plain HTTP, and the status says why in the
// user's words beside the CA's.
func TestACMEChallengeUnreachable(t *testing.T) {
	site := newAcmeSite(t)
	p := startPebble(t, freePort(t), freePort(t), 90*24*time.Hour) // not the front end's ports
	domain := testDomain("unreachable")
	a := startAcmeFront(t, acmeSpec(site.root, site.acme(p, domain), site.httpPort, site.tlsPort), acmeOptions{}, true)
	failed := a.waitStatus(t, domain, 90*time.Second, func(cs CertStatus) bool { return cs.LastError != "" })
	if failed.HaveCert || !strings.Contains(failed.Reason, "could not verify the name here") || !strings.Contains(failed.LastError, "urn:ietf:params:acme:error:") {
		t.Errorf("status %+v: want no certificate, the reason and pebble's problem document", failed)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", site.httpPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("plain HTTP without a certificate: %s, want 200", resp.Status)
	}
}
