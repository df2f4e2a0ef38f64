//go:build !noacme

package httpfront

// Helpers for the ACME tests: pebble (internal/pebbletest) and a front
// end with ACME on loopback ports.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/pebbletest"
	"github.com/mkimage/mkimage/spec"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int { return pebbletest.FreePort(t) }

// startPebble runs pebble validating challenges on httpPort/tlsPort of
// 127.0.0.1, issuing certificates valid for validity.
func startPebble(t *testing.T, httpPort, tlsPort int, validity time.Duration) *pebbletest.Pebble {
	return pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort, Validity: validity})
}

// acmeFront is a front end with ACME on fixed loopback ports.
type acmeFront struct {
	srv            *Server
	httpPort, tlsP int
	logMu          sync.Mutex
	log            []string
}

func (a *acmeFront) logf(format string, args ...any) {
	a.logMu.Lock()
	defer a.logMu.Unlock()
	a.log = append(a.log, fmt.Sprintf(format, args...))
}

// logLines counts the log lines containing s.
func (a *acmeFront) logLines(s string) int {
	a.logMu.Lock()
	defer a.logMu.Unlock()
	n := 0
	for _, l := range a.log {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// acmeSpec is a front end serving root with acme on loopback ports.
func acmeSpec(root string, acme spec.ACME, httpPort, tlsPort int) spec.Front {
	return spec.Front{Root: root, Listen: fmt.Sprintf("127.0.0.1:%d", httpPort), TLSListen: fmt.Sprintf("127.0.0.1:%d", tlsPort), ACME: &acme}
}

// startAcmeFront serves cfg (HTTP at once; HTTPS and certificate
// management when tls is true).
func startAcmeFront(t *testing.T, cfg spec.Front, o acmeOptions, tls bool) *acmeFront {
	t.Helper()
	if o.renewCheck == 0 {
		o.renewCheck = time.Second
	}
	_, hp := splitListen(cfg.Listen)
	_, tp := splitListen(cfg.TLSListen)
	a := &acmeFront{httpPort: hp, tlsP: tp}
	srv, err := NewServer(cfg, ServerOptions{Options: Options{Logf: a.logf}, AccessLog: io.Discard, acme: o})
	if err != nil {
		t.Fatal(err)
	}
	a.srv = srv
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(a.stop)
	if tls {
		a.startTLS(t)
	}
	return a
}

func (a *acmeFront) startTLS(t *testing.T) {
	t.Helper()
	tln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", a.tlsP))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.srv.ServeTLS(tln) }()
}

func (a *acmeFront) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
}

// httpsClient trusts roots and sends every connection to the front
// end's HTTPS port, whatever the name.
func (a *acmeFront) httpsClient(roots *x509.CertPool) *http.Client {
	addr := fmt.Sprintf("127.0.0.1:%d", a.tlsP)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

// waitStatus polls the front end's ACME status of domain until ok.
func (a *acmeFront) waitStatus(t *testing.T, domain string, within time.Duration, ok func(CertStatus) bool) CertStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, cs := range a.srv.ACMEStatus() {
			if cs.Domain == domain && ok(cs) {
				return cs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status not reached within %v: %+v; log: %q", domain, within, a.srv.ACMEStatus(), a.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
