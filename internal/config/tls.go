package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// TLS is HTTPS, either with a certificate of one's own (dir) or with
// certificates the front end gets and renews itself from an ACME CA
// (acme = true, Let's Encrypt by default). [web] tls_dir and tls_listen
// are older names of dir and listen and keep working (not both names at
// once). ACME proves the domains with HTTP-01 on port 80 (the front end
// listens there in the image) or TLS-ALPN-01 on listen: the domains' DNS
// must point at the appliance and port 80 or 443 be reachable from the
// internet.
type TLS struct {
	// ACME has the front end obtain and renew certificates for domains
	// itself, kept with the ACME account on /data (/data/mkimage/acme)
	// across reboots and updates. The CA checks each domain by the
	// HTTP-01 challenge on port 80 (where the front end always listens)
	// or TLS-ALPN-01 on listen: the domains' DNS must point at the
	// appliance, port 80 or 443 reachable from the CA. Excludes dir.
	ACME bool `toml:"acme"`
	// Domains are the appliance's DNS names, e.g. ["example.org",
	// "www.example.org"]: lower-case, each once, no wildcards (the
	// challenges cannot prove them) and no IP addresses. Required with
	// acme; with dir the certificate must cover every one of them (the
	// build checks).
	Domains []string `toml:"domains"`
	// Email is the ACME account's contact address, where the CA sends
	// expiry warnings. Optional.
	Email string `toml:"email"`
	// CA is the ACME directory URL of another CA (Let's Encrypt's staging,
	// a private CA): https://, or http:// on a loopback host. Default:
	// Let's Encrypt's production CA.
	CA string `toml:"ca"`
	// CARoots is a PEM file (relative to this file) of the roots that sign
	// the CA's own HTTPS, for a private CA; copied into the image as
	// /etc/mkimage/acme-ca-roots.pem. Needs ca. Default: the system's roots.
	CARoots string `toml:"ca_roots"`
	// RedirectHTTP answers plain HTTP with a redirect to HTTPS, except the
	// ACME challenge, for the hosts a certificate covers (with acme, once
	// it is obtained; with dir, the certificate's names). Default: true.
	RedirectHTTP *bool `toml:"redirect_http"`
	// HSTS is the Strict-Transport-Security header of HTTPS answers,
	// "max-age=SECONDS" with optional "; includeSubDomains" and
	// "; preload" (which needs includeSubDomains and a max-age of a year).
	// Default: none.
	HSTS string `toml:"hsts"`
	// Dir holds a certificate of one's own, cert.pem (the server's
	// certificate first, then its chain) and key.pem (unencrypted),
	// relative to this file; copied into the image, readable by the front
	// end alone. The build checks that the key matches, that the
	// certificate is valid now and covers domains.
	Dir string `toml:"dir"`
	// Listen is the HTTPS address, [host]:port. Default: ":443".
	Listen string `toml:"listen"`
}

// CertDir returns the directory of a certificate of one's own ([web.tls]
// dir or [web] tls_dir), resolved, and the key that names it; "" when
// there is none.
func (c *Config) CertDir() (dir, key string) {
	switch {
	case c.Web.TLS.Dir != "":
		return c.Resolve(c.Web.TLS.Dir), "web.tls.dir"
	case c.Web.TLSDir != "":
		return c.Resolve(c.Web.TLSDir), "web.tls_dir"
	}
	return "", ""
}

// HTTPS reports whether the front end serves HTTPS: with a certificate of
// one's own or with ACME.
func (c *Config) HTTPS() bool {
	d, _ := c.CertDir()
	return d != "" || c.Web.TLS.ACME
}

// TLSListen is the HTTPS address as set ([web.tls] listen or [web]
// tls_listen); "" is the default, ":443".
func (c *Config) TLSListen() string {
	if c.Web.TLS.Listen != "" {
		return c.Web.TLS.Listen
	}
	return c.Web.TLSListen
}

// RedirectHTTPOn is [web.tls] redirect_http with its default, true.
func (t TLS) RedirectHTTPOn() bool { return t.RedirectHTTP == nil || *t.RedirectHTTP }

var (
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	hstsRE     = regexp.MustCompile(`^max-age=([0-9]{1,10})((?:\s*;\s*(?:includeSubDomains|preload))*)$`)
)

func (c *Config) validateTLS() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, c.errf(key, format, args...)) }
	t := c.Web.TLS
	if t.Dir != "" && c.Web.TLSDir != "" {
		add("web.tls.dir", "set either [web.tls] dir or [web] tls_dir (its older name), not both")
	}
	if t.Listen != "" && c.Web.TLSListen != "" {
		add("web.tls.listen", "set either [web.tls] listen or [web] tls_listen (its older name), not both")
	}
	dir, dirKey := c.CertDir()
	if dir != "" {
		for _, f := range []string{"cert.pem", "key.pem"} {
			if st, err := os.Stat(filepath.Join(dir, f)); err != nil || !st.Mode().IsRegular() {
				add(dirKey, "%s has no %s", dir, f)
			}
		}
	}
	if l := c.TLSListen(); l != "" {
		key := "web.tls.listen"
		if t.Listen == "" {
			key = "web.tls_listen"
		}
		if _, port, err := net.SplitHostPort(l); err != nil {
			add(key, "%q: want [host]:port, like \":443\"", l)
		} else if port == "80" {
			add(key, "%q: port 80 is the front end's plain HTTP (and the ACME HTTP-01 challenge's)", l)
		}
	}
	if t.ACME && dir != "" {
		add("web.tls.acme", "acme gets its own certificates: remove %s (%s), or acme to keep your own", dirKey, dir)
	}
	if t.ACME && len(t.Domains) == 0 {
		add("web.tls.domains", "acme needs domains, the names the certificate is for, e.g. [\"example.org\"]")
	}
	if !t.ACME && dir == "" && len(t.Domains) > 0 {
		add("web.tls.domains", "domains need acme = true, or dir with a certificate to check them against")
	}
	seen := map[string]bool{}
	for _, d := range t.Domains {
		if err := checkDomain(d); err != nil {
			add("web.tls.domains", "%q: %v", d, err)
		} else if seen[d] {
			add("web.tls.domains", "%q is listed twice", d)
		}
		seen[d] = true
	}
	if !t.ACME {
		for key, set := range map[string]bool{"email": t.Email != "", "ca": t.CA != "", "ca_roots": t.CARoots != ""} {
			if set {
				add("web.tls."+key, "%s applies to acme = true only", key)
			}
		}
	}
	if !c.HTTPS() {
		for key, set := range map[string]bool{"redirect_http": t.RedirectHTTP != nil, "hsts": t.HSTS != ""} {
			if set {
				add("web.tls."+key, "%s needs HTTPS: acme = true, or dir with a certificate of your own", key)
			}
		}
	}
	if t.Email != "" {
		if a, err := mail.ParseAddress(t.Email); err != nil || a.Address != t.Email || a.Name != "" {
			add("web.tls.email", "%q is not an email address like ops@example.org", t.Email)
		}
	}
	if t.CA != "" {
		if err := checkCA(t.CA); err != nil {
			add("web.tls.ca", "%q: %v", t.CA, err)
		}
	}
	if t.CARoots != "" {
		if t.CA == "" && t.ACME {
			add("web.tls.ca_roots", "ca_roots needs ca: Let's Encrypt's HTTPS is signed by the system's roots")
		}
		if st, err := os.Stat(c.Resolve(t.CARoots)); err != nil || !st.Mode().IsRegular() {
			add("web.tls.ca_roots", "%s is not a readable file", c.Resolve(t.CARoots))
		}
	}
	if t.HSTS != "" {
		if err := checkHSTS(t.HSTS); err != nil {
			add("web.tls.hsts", "%q: %v", t.HSTS, err)
		}
	}
	return errors.Join(errs...)
}

// checkDomain accepts a name a CA can issue for with HTTP-01 or
// TLS-ALPN-01: a lower-case DNS name, no wildcard, no address.
func checkDomain(d string) error {
	switch {
	case d == "":
		return errors.New("an empty name")
	case strings.HasPrefix(d, "*."):
		return errors.New("a wildcard needs the DNS-01 challenge, which the front end does not do: list the names")
	case strings.HasSuffix(d, "."):
		return errors.New("write the name without the trailing dot")
	case strings.ToLower(d) != d:
		return fmt.Errorf("write it in lower case, %q", strings.ToLower(d))
	case isAddr(d):
		return errors.New("an IP address: certificates here are for DNS names")
	case len(d) > 253:
		return errors.New("longer than 253 characters")
	}
	for _, l := range strings.Split(d, ".") {
		if !dnsLabelRE.MatchString(l) {
			return errors.New("not a DNS name (labels of letters, digits and '-', at most 63 each)")
		}
	}
	return nil
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}

// checkCA accepts an ACME directory URL: https://, or http:// on a
// loopback host (a test CA on the same machine).
func checkCA(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return errors.New("want an ACME directory URL like https://acme-staging-v02.api.letsencrypt.org/directory")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" {
			return nil
		}
		if a, err := netip.ParseAddr(h); err == nil && a.IsLoopback() {
			return nil
		}
		return errors.New("the CA must be reached over https:// (plain http:// only on a loopback host)")
	}
	return errors.New("want an https:// URL")
}

// checkHSTS accepts "max-age=N" with "; includeSubDomains" and
// "; preload" (RFC 6797; preload as hstspreload.org asks for it).
func checkHSTS(s string) error {
	m := hstsRE.FindStringSubmatch(s)
	if m == nil {
		return errors.New(`want "max-age=SECONDS", optionally followed by "; includeSubDomains" and "; preload"`)
	}
	age, _ := strconv.ParseInt(m[1], 10, 64)
	var sub, pre bool
	for _, d := range strings.Split(m[2], ";") {
		switch strings.TrimSpace(d) {
		case "includeSubDomains":
			if sub {
				return errors.New("includeSubDomains twice")
			}
			sub = true
		case "preload":
			if pre {
				return errors.New("preload twice")
			}
			pre = true
		}
	}
	if pre && (!sub || age < 31536000) {
		return errors.New("preload needs includeSubDomains and a max-age of at least 31536000 (a year)")
	}
	return nil
}
