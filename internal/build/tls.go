package build

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// tlsDir is where a certificate of one's own ([web.tls] dir, [web]
// tls_dir) lands in the image.
const tlsDir = spec.Dir + "/tls"

// acmeRoots is where [web.tls] ca_roots lands in the image.
const acmeRoots = spec.Dir + "/acme-ca-roots.pem"

// letsEncrypt is the CA an empty [web.tls] ca means.
const letsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// expirySoon is how close to its end a certificate of one's own makes the
// build warn: the image carries it until the next build.
const expirySoon = 30 * 24 * time.Hour

// frontTLS sets the front end's HTTPS from [web.tls] (or [web] tls_dir)
// and returns the tree of a certificate of one's own. Files are checked
// by addTLS.
func frontTLS(cfg *config.Config, front *spec.Front) []rootfs.Tree {
	t := cfg.Web.TLS
	if !cfg.HTTPS() {
		return nil
	}
	front.TLSListen = cfg.TLSListen()
	front.RedirectHTTP, front.HSTS = t.RedirectHTTPOn(), t.HSTS
	if t.ACME {
		front.ACME = &spec.ACME{
			Domains:    append([]string(nil), t.Domains...),
			Email:      t.Email,
			CA:         t.CA,
			StorageDir: spec.ACMEStorageDir,
		}
		if t.CARoots != "" {
			front.ACME.CARoots = acmeRoots
		}
		return nil
	}
	dir, _ := cfg.CertDir()
	front.TLSCert, front.TLSKey = tlsDir+"/cert.pem", tlsDir+"/key.pem"
	return []rootfs.Tree{{Source: dir, Target: tlsDir}}
}

// addTLS checks what HTTPS needs from the build machine, now: a
// certificate of one's own (see checkCert), or the PEM roots of a private
// ACME CA, which it puts into the image. It words HTTPS for the plan.
func (p *plan) addTLS(cfg *config.Config, now time.Time) error {
	t := cfg.Web.TLS
	listen := cmp.Or(cfg.TLSListen(), ":443")
	switch {
	case t.ACME:
		ca := cmp.Or(t.CA, letsEncrypt+" (Let's Encrypt)")
		p.https = append(p.https, fmt.Sprintf("acme for %s from %s, on %s and :%d (HTTP-01), state in %s", strings.Join(t.Domains, ", "), ca, listen, HTTPPort, spec.ACMEStorageDir))
		if t.CARoots == "" {
			return nil
		}
		file := cfg.Resolve(t.CARoots)
		data, err := readRoots(file)
		if err != nil {
			return cfg.Errorf("web.tls.ca_roots", "%v", err)
		}
		p.files = append(p.files, rootfs.File{Target: acmeRoots, Data: data, Mode: 0o644})
		p.https = append(p.https, fmt.Sprintf("the CA's HTTPS roots from %s in %s", file, acmeRoots))
	default:
		dir, key := cfg.CertDir()
		if dir == "" {
			return nil
		}
		leaf, err := checkCert(dir, t.Domains, now)
		if err != nil {
			var each []error
			for _, e := range unjoin(err) {
				each = append(each, cfg.Errorf(key, "%v", e))
			}
			return errors.Join(each...)
		}
		left := leaf.NotAfter.Sub(now)
		days := int((left + 12*time.Hour) / (24 * time.Hour))
		p.https = append(p.https, fmt.Sprintf("certificate for %s, valid until %s (%d days), from %s, on %s", certNames(leaf), leaf.NotAfter.UTC().Format(time.DateOnly), days, dir, listen))
		if left < expirySoon {
			p.https = append(p.https, fmt.Sprintf("warning: the certificate expires in %d days; the image serves it until the next build (acme = true renews by itself)", days))
		}
		if len(t.Domains) == 0 {
			p.https = append(p.https, "note: set [web.tls] domains to have the build check the certificate is for them")
		}
	}
	return nil
}

// checkCert checks a certificate of one's own the way the front end will
// load it, and more: PEM files, an unencrypted key that matches the
// certificate, the server's certificate first, valid at now and for every
// one of domains. It returns the server's certificate. Errors name the
// file.
func checkCert(dir string, domains []string, now time.Time) (*x509.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(certFile, certPEM)
	if err != nil {
		return nil, err
	}
	leaf := certs[0]
	key, err := parseKey(keyFile, keyPEM)
	if err != nil {
		return nil, err
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("%s does not match the certificate in %s (%s): they are not a pair", keyFile, certFile, certNames(leaf))
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("%s and %s: %v", certFile, keyFile, err)
	}
	// The pair loads; what is wrong with the certificate is reported at once.
	var errs []error
	if leaf.IsCA && len(certs) > 1 {
		errs = append(errs, fmt.Errorf("%s starts with a CA's certificate (%s): put the server's own first, then its chain", certFile, leaf.Subject))
	}
	switch {
	case now.Before(leaf.NotBefore):
		errs = append(errs, fmt.Errorf("%s (%s) is not valid before %s", certFile, certNames(leaf), leaf.NotBefore.UTC().Format(time.RFC3339)))
	case now.After(leaf.NotAfter):
		errs = append(errs, fmt.Errorf("%s (%s) expired on %s", certFile, certNames(leaf), leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	var missing []string
	for _, d := range domains {
		if leaf.VerifyHostname(d) != nil {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%s is for %s, not for %s ([web.tls] domains)", certFile, certNames(leaf), strings.Join(missing, ", ")))
	}
	return leaf, errors.Join(errs...)
}

// parseCerts reads the certificates of a PEM file, nothing else.
func parseCerts(file string, data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(bytes.TrimSpace(rest)) > 0 && len(certs) > 0 {
				return nil, fmt.Errorf("%s has something other than PEM after certificate %d", file, len(certs))
			}
			break
		}
		if strings.Contains(b.Type, "PRIVATE KEY") {
			return nil, fmt.Errorf("%s holds a private key (%s): certificates go there, the key in key.pem", file, b.Type)
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s holds a %q block: want certificates (BEGIN CERTIFICATE)", file, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %v", file, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s is not a PEM file of certificates (-----BEGIN CERTIFICATE-----); convert DER with `openssl x509 -inform der -in cert.der -out cert.pem`", file)
	}
	return certs, nil
}

// parseKey reads the one private key of a PEM file.
func parseKey(file string, data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	switch {
	case b == nil:
		return nil, fmt.Errorf("%s is not a PEM file (-----BEGIN PRIVATE KEY-----)", file)
	case b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
		return nil, fmt.Errorf("%s is encrypted with a passphrase, which nobody can type at boot: decrypt it into another file, `openssl pkey -in key.pem -out plain.pem`, and put that in its place", file)
	case b.Type == "CERTIFICATE":
		return nil, fmt.Errorf("%s holds a certificate, not a private key", file)
	case !strings.HasSuffix(b.Type, "PRIVATE KEY"):
		return nil, fmt.Errorf("%s holds a %q block: want a private key", file, b.Type)
	}
	var key any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T key cannot sign", file, key)
	}
	return s, nil
}

// readRoots reads a PEM file of CA certificates.
func readRoots(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if _, err := parseCerts(file, data); err != nil {
		return nil, err
	}
	return data, nil
}

// unjoin splits an errors.Join into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// certNames words what a certificate is for: its DNS names and
// addresses, else its subject.
func certNames(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "subject " + c.Subject.String() + ", no DNS names"
	}
	return strings.Join(names, ", ")
}

// httpsPort is the front end's HTTPS port in the guest (listen's,
// validated; 443 by default).
func httpsPort(cfg *config.Config) int {
	_, port, _ := net.SplitHostPort(cmp.Or(cfg.TLSListen(), ":443"))
	n, _ := strconv.Atoi(port)
	return n
}
