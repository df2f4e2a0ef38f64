package httpfront

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// tls12Suites are TLS 1.2's cipher suites the front end accepts: forward
// secret and AEAD only, as Mozilla's "intermediate" profile (Go's default
// adds AES-CBC with SHA-1). TLS 1.3's are all AEAD and not configurable.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// httpsPolicy is what plain HTTP and HTTPS answers get when the front end
// serves HTTPS, with ACME's certificates or one of its own: a redirect of
// plain HTTP for the hosts a certificate covers (spec.Front.RedirectHTTP,
// never the ACME challenge) and HSTS on HTTPS answers.
type httpsPolicy struct {
	redirect  bool
	hsts      string
	httpsPort string                     // of TLSListen, "" for 443: the redirect's target
	covers    func(host string) bool     // a certificate for host is served
	challenge func(r *http.Request) bool // the ACME HTTP-01 challenge, or nil
}

// redirects reports whether plain HTTP request r is sent to HTTPS. A nil
// policy (no HTTPS) never does.
func (p *httpsPolicy) redirects(r *http.Request) bool {
	if p == nil || !p.redirect || (p.challenge != nil && p.challenge(r)) {
		return false
	}
	return p.covers(hostOnly(r.Host))
}

// sendToHTTPS writes the redirect of r to HTTPS.
func (p *httpsPolicy) sendToHTTPS(w http.ResponseWriter, r *http.Request) {
	host := hostOnly(r.Host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p.httpsPort != "" {
		host += ":" + p.httpsPort
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// markHTTPS sets HSTS on an HTTPS answer.
func (p *httpsPolicy) markHTTPS(w http.ResponseWriter) {
	if p != nil && p.hsts != "" {
		w.Header().Set("Strict-Transport-Security", p.hsts)
	}
}

// tlsPort is listen's port, "" when it is 443 (a redirect leaves it out).
func tlsPort(listen string) string {
	if listen == "" {
		return ""
	}
	if _, port, err := net.SplitHostPort(listen); err == nil && port != "443" {
		return port
	}
	return ""
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// ownCert loads the spec's certificate of one's own, for serving and for
// the hosts it covers.
func ownCert(certFile, keyFile string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return c, fmt.Errorf("loading the certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return c, nil // Go 1.23+ fills c.Leaf
}

// coversHost reports whether c's certificate is valid for host.
func coversHost(c tls.Certificate) func(string) bool {
	return func(host string) bool { return c.Leaf != nil && c.Leaf.VerifyHostname(host) == nil }
}
