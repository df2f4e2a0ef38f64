//go:build !noacme

package httpfront

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/mkimage/mkimage/spec"
)

// acmeCacheCapacity bounds the certificates certmagic keeps in memory:
// the front end manages a handful of names, a renewal briefly holds two.
const acmeCacheCapacity = 16

// acmeOptions are the tests' knobs for automatic HTTPS.
type acmeOptions struct {
	renewCheck    time.Duration // certmagic's maintenance period; default its own (10 min)
	noHTTP01      bool
	noTLSALPN01   bool
	noARI         bool
	logger        *zap.Logger // certmagic's own log; default none (events are logged by us)
	windowRatio   float64     // renewal window as remaining:lifetime; default certmagic's 1/3
	httpPortForCA int         // the port the CA's HTTP-01 validation reaches (default: Listen's)
}

// autoTLS obtains and renews the front end's certificates (spec.ACME)
// with certmagic: its own Cache and Config, never certmagic.Default.
type autoTLS struct {
	acme   spec.ACME
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	cache  *certmagic.Cache
	logf   func(format string, args ...any)
	check  time.Duration

	start   sync.Once
	stopped sync.Once
	cancel  context.CancelFunc

	mu    sync.Mutex
	state map[string]*domainState
}

// domainState is what the CA last said about one domain.
type domainState struct {
	lastError   string
	lastErrorAt time.Time
	reason      string // acmeReason's
	failures    int    // consecutive
}

// newAutoTLS configures certmagic for a; listenHTTP is the front end's
// plain HTTP address (the HTTP-01 challenge arrives there).
func newAutoTLS(a spec.ACME, listenHTTP string, logf func(string, ...any), o acmeOptions) (*autoTLS, error) {
	if len(a.Domains) == 0 || a.StorageDir == "" {
		return nil, errors.New("acme: domains and storage_dir are required")
	}
	roots, err := loadRoots(a.CARoots)
	if err != nil {
		return nil, err
	}
	t := &autoTLS{acme: a, logf: logf, check: o.renewCheck, state: map[string]*domainState{}}
	if t.check <= 0 {
		t.check = certmagic.DefaultRenewCheckInterval
	}
	logger := o.logger
	if logger == nil {
		logger = zap.NewNop()
	}
	t.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return t.magic, nil },
		RenewCheckInterval: t.check,
		Capacity:           max(acmeCacheCapacity, 2*len(a.Domains)),
		Logger:             logger,
	})
	t.magic = certmagic.New(t.cache, certmagic.Config{
		Storage:            &certmagic.FileStorage{Path: a.StorageDir},
		RenewalWindowRatio: o.windowRatio,
		DisableARI:         o.noARI,
		OnEvent:            t.onEvent,
		Logger:             logger,
	})
	host, port := splitListen(listenHTTP)
	if o.httpPortForCA != 0 {
		port = o.httpPortForCA
	}
	t.issuer = certmagic.NewACMEIssuer(t.magic, certmagic.ACMEIssuer{
		CA: a.CA, Email: a.Email, Agreed: true, TrustedRoots: roots,
		DisableHTTPChallenge: o.noHTTP01, DisableTLSALPNChallenge: o.noTLSALPN01,
		// The front end answers both challenges on its own listeners;
		// certmagic finds these ports taken and leaves them to us.
		ListenHost: host, AltHTTPPort: port,
		Logger: logger,
	})
	t.magic.Issuers = []certmagic.Issuer{t.issuer}
	return t, nil
}

func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("acme: reading the CA's roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("acme: no certificate in the CA's roots file %s", path)
	}
	return pool, nil
}

// splitListen returns the host and port of a listen address (":80" when
// it has none).
func splitListen(addr string) (string, int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 80
	}
	port, err := strconv.Atoi(p)
	if err != nil || port == 0 {
		port = 80
	}
	return host, port
}

// run starts managing the certificates, once, with the HTTPS listener
// tln open: certificates in storage are loaded now, missing ones are
// obtained in the background (retried with certmagic's back-off) while
// the site keeps answering on plain HTTP.
func (t *autoTLS) run(tln net.Listener) error {
	var err error
	t.start.Do(func() {
		host, port := splitListen(tln.Addr().String())
		t.issuer.ListenHost, t.issuer.AltTLSALPNPort = host, port
		var ctx context.Context
		ctx, t.cancel = context.WithCancel(context.Background())
		if err = t.magic.ManageAsync(ctx, t.acme.Domains); err != nil {
			err = fmt.Errorf("acme: managing certificates for %v: %w", t.acme.Domains, err)
		}
	})
	return err
}

// stop ends certificate maintenance and any obtain in progress (once:
// a second Shutdown is harmless).
func (t *autoTLS) stop() {
	t.stopped.Do(func() {
		t.start.Do(func() {}) // no run after stop
		if t.cancel != nil {
			t.cancel()
		}
		t.cache.Stop()
	})
}

// onEvent keeps the CA's last word per domain and logs one line per
// outcome (certmagic's own log is off).
func (t *autoTLS) onEvent(_ context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	what := "obtaining"
	if renewal {
		what = "renewing"
	}
	switch event {
	case "cert_obtained":
		t.mu.Lock()
		t.state[name] = &domainState{}
		t.mu.Unlock()
		t.logf("httpfront: acme: %s the certificate for %s: done", what, name)
	case "cert_failed":
		err, _ := data["error"].(error)
		msg := clip(oneLine(fmt.Sprint(err)), maxCAError)
		t.mu.Lock()
		st := t.stateOf(name)
		st.lastError, st.lastErrorAt, st.reason = msg, time.Now(), acmeReason(err)
		st.failures++
		t.mu.Unlock()
		t.logf("httpfront: acme: %s the certificate for %s: %s", what, name, msg)
	}
	return nil
}

// stateOf returns name's state; t.mu is held.
func (t *autoTLS) stateOf(name string) *domainState {
	st := t.state[name]
	if st == nil {
		st = &domainState{}
		t.state[name] = st
	}
	return st
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// maxCAError bounds what is kept and logged of a CA's (or the network's)
// error: the CA's problem document is the CA's to write.
const maxCAError = 2048

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(" [cut]")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " [cut]"
}

// certFor returns the managed certificate served for host, if any.
func (t *autoTLS) certFor(host string) (certmagic.Certificate, bool) {
	for _, c := range t.cache.AllMatchingCertificates(host) {
		if c.Leaf != nil && !c.Expired() {
			return c, true
		}
	}
	return certmagic.Certificate{}, false
}

// covers reports whether a certificate for host is being served.
func (t *autoTLS) covers(host string) bool {
	_, ok := t.certFor(host)
	return ok
}

// isChallenge reports whether r is an ACME HTTP-01 challenge, which
// serveChallenge answers (the fast path hands it to ServeHTTP).
func (t *autoTLS) isChallenge(r *http.Request) bool { return certmagic.LooksLikeHTTPChallenge(r) }

// serveChallenge answers r if it is an HTTP-01 challenge of ours; false
// means it wrote nothing.
func (t *autoTLS) serveChallenge(w http.ResponseWriter, r *http.Request) bool {
	return t.issuer.HandleHTTPChallenge(w, r)
}

// tlsConfig is certmagic's: GetCertificate, and acme-tls/1 for TLS-ALPN-01.
func (t *autoTLS) tlsConfig() *tls.Config { return t.magic.TLSConfig() }
