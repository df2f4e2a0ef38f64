// Package pebbletest runs pebble, Let's Encrypt's test CA, for tests: built
// from the module's tool line, with a DNS server that sends every name to
// 127.0.0.1 and an HTTPS certificate of its own, so that a QEMU guest
// reaching it through a forwarded address can verify it.
package pebbletest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options say what pebble validates and issues.
type Options struct {
	// HTTPPort and TLSPort are the ports of 127.0.0.1 where pebble
	// validates HTTP-01 and TLS-ALPN-01 challenges.
	HTTPPort, TLSPort int
	// Validity is the issued certificates' lifetime (default 90 days).
	Validity time.Duration
	// ServerIPs are addresses pebble's own HTTPS certificate is also
	// valid for, beyond 127.0.0.1 and localhost (e.g. the address a
	// guest reaches it at).
	ServerIPs []net.IP
}

// Pebble is a running pebble and what it printed.
type Pebble struct {
	cmd    *exec.Cmd
	Listen string // the ACME server's address, 127.0.0.1:PORT
	Dir    string // the ACME directory URL on Listen
	Mgmt   string // the management address
	Roots  string // PEM file of the roots of pebble's own HTTPS
	mu     sync.Mutex
	out    bytes.Buffer
}

func (p *Pebble) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output is what pebble printed so far.
func (p *Pebble) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Issued counts the certificates pebble issued.
func (p *Pebble) Issued() int {
	return strings.Count(p.Output(), "Issued certificate serial")
}

// Stop kills pebble and waits for it.
func (p *Pebble) Stop() {
	if p.cmd.Process != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs pebble until the test ends.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	bin := Binary(t)
	if o.Validity == 0 {
		o.Validity = 90 * 24 * time.Hour
	}
	dir := t.TempDir()
	cert, key, roots, err := serverCert(dir, o.ServerIPs)
	if err != nil {
		t.Fatal(err)
	}
	listen, mgmt := fmt.Sprintf("127.0.0.1:%d", FreePort(t)), fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": cert, "privateKey": key,
		"httpPort": o.HTTPPort, "tlsPort": o.TLSPort, "ocspResponderURL": "",
		"keyAlgorithm": "ecdsa",
		"profiles":     map[string]any{"default": map[string]any{"description": "test", "validityPeriod": int(o.Validity.Seconds())}},
	}}
	js, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Pebble{Listen: listen, Dir: "https://" + listen + "/dir", Mgmt: mgmt, Roots: roots}
	p.cmd = exec.Command(bin, "-config", cfgPath, "-dnsserver", StartDNS(t))
	p.cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting pebble: %v", err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("pebble's output:\n%s", p.Output())
		}
	})
	p.waitReady(t)
	return p
}

// Client trusts pebble's own HTTPS.
func (p *Pebble) Client(t testing.TB) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(p.Roots)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (p *Pebble) waitReady(t testing.TB) {
	t.Helper()
	c := p.Client(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(p.Dir)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready at %s: %v", p.Dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// IssuingRoots returns the roots pebble signs certificates with
// (management interface /roots/0).
func (p *Pebble) IssuingRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	resp, err := p.Client(t).Get("https://" + p.Mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("fetching pebble's issuing root: %v", err)
	}
	defer resp.Body.Close()
	pem, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("pebble's /roots/0 is not PEM: %q", pem)
	}
	return pool
}
