package qemutests

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/pebbletest"
	"github.com/mkimage/mkimage/internal/qemu"
)

// The appliance reaches pebble on the host through a guest forward: its
// ACME directory is at acmeGuestAddr in the user network, relayed to
// pebble's loopback port. Pebble validates acmeDomain (its DNS server
// answers 127.0.0.1) on the host ports forwarded to the guest's 80 and
// 443.
const (
	acmeGuestAddr = "10.0.2.100:14000"
	acmeDomain    = "app.test"
	acmeHSTS      = "max-age=60"
)

// acmePeer is pebble on the host and the ports a guest is booted with.
type acmePeer struct {
	p                 *pebbletest.Pebble
	httpPort, tlsPort int
	roots             *x509.CertPool // pebble's issuing root, kept for when it is gone
}

func startACMEPeer(t *testing.T) *acmePeer {
	t.Helper()
	a := &acmePeer{httpPort: pebbletest.FreePort(t), tlsPort: pebbletest.FreePort(t)}
	a.p = pebbletest.Start(t, pebbletest.Options{HTTPPort: a.httpPort, TLSPort: a.tlsPort,
		ServerIPs: []net.IP{net.ParseIP(strings.Split(acmeGuestAddr, ":")[0])}})
	return a
}

// config is the [web.tls] and [web.status] sections of an appliance that
// gets its certificate from the peer.
func (a *acmePeer) config() string {
	return fmt.Sprintf("\n[web.tls]\nacme = true\ndomains = [%q]\nemail = \"ops@example.com\"\nca = \"https://%s/dir\"\nca_roots = %q\nhsts = %q\n"+
		"[web.status]\npath = \"/.status\"\nallow = [\"10.0.2.2/32\"]\n", acmeDomain, acmeGuestAddr, a.p.Roots, acmeHSTS)
}

// bootArgs forward the host ports pebble validates on, and the guest's
// way to pebble.
func (a *acmePeer) bootArgs() []string {
	return []string{"-port", fmt.Sprint(a.httpPort), "-https-port", fmt.Sprint(a.tlsPort), "-guestfwd", acmeGuestAddr + "=" + a.p.Listen}
}

// client speaks HTTPS to the guest for any name, trusting roots, at most
// maxVersion of TLS (0: any).
func (a *acmePeer) client(roots *x509.CertPool, maxVersion uint16) *http.Client {
	addr := fmt.Sprintf("127.0.0.1:%d", a.tlsPort)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MaxVersion: maxVersion},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// certStatus is the status page's HTTPS entry for a domain.
type certStatus struct {
	Domain    string    `json:"domain"`
	HaveCert  bool      `json:"have_cert"`
	Serial    string    `json:"serial"`
	NotAfter  time.Time `json:"not_after"`
	LastError string    `json:"last_error"`
}

// waitCert polls the guest's status page until it has a certificate for
// acmeDomain, and returns its entry.
func waitCert(t *testing.T, g *Guest, within time.Duration) certStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		var st struct {
			HTTPS []certStatus `json:"https"`
		}
		if err := json.Unmarshal(get(t, g.URL+".status.json", qemu.Scaled(30*time.Second)), &st); err != nil {
			t.Fatalf("status page: %v", err)
		}
		for _, cs := range st.HTTPS {
			if cs.Domain == acmeDomain && cs.HaveCert {
				return cs
			}
			last = fmt.Sprintf("%+v", cs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s within %v; status: %s", acmeDomain, within, last)
		}
		time.Sleep(time.Second)
	}
}

// getHTTPS fetches path from the guest over HTTPS as acmeDomain and
// returns the answer (body read) and the served certificate's serial.
func getHTTPS(t *testing.T, c *http.Client, path string) (*http.Response, string, []byte) {
	t.Helper()
	resp, err := c.Get("https://" + acmeDomain + path)
	if err != nil {
		t.Fatalf("GET https://%s%s: %v", acmeDomain, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET https://%s%s: reading: %v", acmeDomain, path, err)
	}
	return resp, fmt.Sprintf("%x", resp.TLS.PeerCertificates[0].SerialNumber), body
}

// checkACMEFirstBoot: the guest obtains a certificate from pebble, serves
// it over HTTPS (HTTP/2, TLS 1.2 or later, HSTS) with a chain pebble's
// root verifies, and redirects plain HTTP except the ACME challenge. It
// returns the certificate's serial.
func (a *acmePeer) checkFirstBoot(t *testing.T, g *Guest, index []byte) string {
	t.Helper()
	start := time.Now()
	cs := waitCert(t, g, qemu.Scaled(120*time.Second))
	t.Logf("ACME: certificate for %s (serial %s, until %s) %.1f s after the page answered", acmeDomain, cs.Serial, cs.NotAfter.Format(time.RFC3339), time.Since(start).Seconds())
	a.roots = a.p.IssuingRoots(t)
	roots := a.roots
	resp, serial, body := getHTTPS(t, a.client(roots, 0), "/")
	if serial != cs.Serial || string(body) != string(index) || resp.ProtoMajor != 2 {
		t.Errorf("HTTPS /: serial %s (status %s), %s, body %d bytes (want the index page, %d)", serial, cs.Serial, resp.Proto, len(body), len(index))
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != acmeHSTS {
		t.Errorf("HTTPS: Strict-Transport-Security %q, want %q", got, acmeHSTS)
	}
	if _, err := a.client(roots, tls.VersionTLS11).Get("https://" + acmeDomain + "/"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	if _, err := a.client(x509.NewCertPool(), 0).Get("https://" + acmeDomain + "/"); err == nil {
		t.Error("the certificate verified without pebble's root")
	}
	plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: a.client(nil, 0).CheckRedirect}
	for path, want := range map[string]int{"/": http.StatusPermanentRedirect, "/.well-known/acme-challenge/none": http.StatusNotFound} {
		req, _ := http.NewRequest(http.MethodGet, g.URL+strings.TrimPrefix(path, "/"), nil)
		req.Host = acmeDomain
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatalf("HTTP %s: %v", path, err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != want || (want == http.StatusPermanentRedirect && loc != "https://"+acmeDomain+path) {
			t.Errorf("HTTP %s as %s: %s Location %q, want %d", path, acmeDomain, resp.Status, loc, want)
		}
	}
	if n := a.p.Issued(); n != 1 {
		t.Errorf("pebble issued %d certificates, want 1", n)
	}
	return serial
}

// checkFromStorage: with pebble gone, a later boot from the same disk
// serves the certificate it kept on /data.
func (a *acmePeer) checkFromStorage(t *testing.T, g *Guest, serial string) {
	t.Helper()
	cs := waitCert(t, g, qemu.Scaled(60*time.Second))
	_, got, _ := getHTTPS(t, a.client(a.roots, 0), "/")
	if cs.Serial != serial || got != serial {
		t.Errorf("after the reboot: serving serial %s (status %s), want %s from /data", got, cs.Serial, serial)
	}
}
