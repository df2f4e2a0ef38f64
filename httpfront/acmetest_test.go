//go:build !noacme

package httpfront

// Helpers for the ACME tests: pebble (Let's Encrypt's test CA, built from
// the module's tool line), a DNS server that sends every name to
// 127.0.0.1, and a front end with ACME on loopback ports.

import (
	"bytes"
	"context"
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

	"github.com/miekg/dns"

	"github.com/mkimage/mkimage/spec"
)

var pebbleBuild struct {
	once      sync.Once
	bin, dir  string // the binary, the module's directory (test certs)
	err       error
	buildTime time.Duration
}

// pebbleBinary builds pebble once per test binary, or skips (fails with
// MKIMAGE_REQUIRE_PEERS=1).
func pebbleBinary(t *testing.T) (bin, modDir string) {
	t.Helper()
	pb := &pebbleBuild
	pb.once.Do(func() {
		start := time.Now()
		out := filepath.Join(os.TempDir(), "mkimage-httpfront-pebble")
		pb.bin = filepath.Join(out, "pebble")
		cmd := exec.Command("go", "build", "-o", pb.bin, "github.com/letsencrypt/pebble/v2/cmd/pebble")
		if msg, err := cmd.CombinedOutput(); err != nil {
			pb.err = fmt.Errorf("building pebble: %w: %s", err, msg)
			return
		}
		msg, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
		if err != nil {
			pb.err = fmt.Errorf("finding pebble's module: %w", err)
			return
		}
		pb.dir = strings.TrimSpace(string(msg))
		pb.buildTime = time.Since(start)
	})
	if pb.err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
			t.Fatal(pb.err)
		}
		t.Skip(pb.err)
	}
	return pb.bin, pb.dir
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDNS answers A 127.0.0.1 for every name (TCP, as pebble asks).
func startDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// pebble is a running pebble and what its stdout said.
type pebble struct {
	cmd       *exec.Cmd
	dir, mgmt string // the ACME directory URL, the management address
	roots     string // PEM file of the roots of pebble's own HTTPS
	mu        sync.Mutex
	out       bytes.Buffer
}

func (p *pebble) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// issued counts the certificates pebble issued.
func (p *pebble) issued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Count(p.out.String(), "Issued certificate serial")
}

// stop kills pebble and waits for it.
func (p *pebble) stop() {
	if p.cmd.Process != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// startPebble runs pebble validating challenges on httpPort/tlsPort of
// 127.0.0.1, issuing certificates valid for validity.
func startPebble(t *testing.T, httpPort, tlsPort int, validity time.Duration) *pebble {
	t.Helper()
	bin, mod := pebbleBinary(t)
	dir := t.TempDir()
	listen, mgmt := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": filepath.Join(mod, "test/certs/localhost/cert.pem"),
		"privateKey":  filepath.Join(mod, "test/certs/localhost/key.pem"),
		"httpPort":    httpPort, "tlsPort": tlsPort, "ocspResponderURL": "",
		"keyAlgorithm": "ecdsa",
		"profiles":     map[string]any{"default": map[string]any{"description": "test", "validityPeriod": int(validity.Seconds())}},
	}}
	js, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &pebble{dir: "https://" + listen + "/dir", mgmt: mgmt, roots: filepath.Join(mod, "test/certs/pebble.minica.pem")}
	p.cmd = exec.Command(bin, "-config", cfgPath, "-dnsserver", startDNS(t))
	p.cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting pebble: %v", err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("pebble's output:\n%s", p.out.String())
		}
	})
	p.waitReady(t)
	return p
}

// client trusts pebble's own HTTPS (its minica).
func (p *pebble) client(t *testing.T) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(p.roots)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (p *pebble) waitReady(t *testing.T) {
	t.Helper()
	c := p.client(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(p.dir)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready at %s: %v", p.dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// issuingRoots returns the roots pebble signs certificates with
// (management interface /roots/0).
func (p *pebble) issuingRoots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.client(t).Get("https://" + p.mgmt + "/roots/0")
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
