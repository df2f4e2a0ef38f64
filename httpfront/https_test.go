package httpfront

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/mkimage/mkimage/spec"
)

// TestOwnCertRedirectHSTS: with a certificate of one's own, plain HTTP
// for a host it covers is redirected to HTTPS (on the fast path too),
// other hosts are served on HTTP, and HTTPS answers carry HSTS; with
// redirect_http off nothing is redirected.
func TestOwnCertRedirectHSTS(t *testing.T) {
	root := tree(t, map[string]string{"index.html": "page"})
	ts := httptest.NewUnstartedServer(nil) // only for its certificate: example.com, 127.0.0.1, ::1
	ts.StartTLS()
	ts.Close()
	certFile, keyFile := writeCert(t, ts.TLS.Certificates[0])
	for _, redirect := range []bool{true, false} {
		tln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := spec.Front{Root: root, TLSCert: certFile, TLSKey: keyFile, TLSListen: tln.Addr().String(), RedirectHTTP: redirect, HSTS: "max-age=60"}
		s, err := NewServer(cfg, ServerOptions{AccessLog: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(ln)
		go s.ServeTLS(tln)
		_, port, _ := net.SplitHostPort(tln.Addr().String())
		plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for host, want := range map[string]string{
			"example.com":      "https://example.com:" + port + "/a?b=1",
			"example.com:8080": "https://example.com:" + port + "/a?b=1",
			"other.org":        "",
		} {
			req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/a?b=1", nil)
			req.Host = host
			resp, err := plain.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if !redirect {
				want = ""
			}
			got := resp.Header.Get("Location")
			if (want == "" && resp.StatusCode == http.StatusPermanentRedirect) || (want != "" && (resp.StatusCode != http.StatusPermanentRedirect || got != want)) {
				t.Errorf("redirect_http %v, host %s: %s Location %q, want %q", redirect, host, resp.Status, got, want)
			}
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
		resp, err := client.Get(fmt.Sprintf("https://%s/", tln.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := resp.Header.Get("Strict-Transport-Security"); h != "max-age=60" || resp.ProtoMajor != 2 {
			t.Errorf("HTTPS: %s, Strict-Transport-Security %q; want HTTP/2 and max-age=60", resp.Proto, h)
		}
		for _, c := range []struct {
			name string
			cfg  *tls.Config
		}{
			{"TLS 1.1", &tls.Config{MaxVersion: tls.VersionTLS11}},
			{"TLS 1.2 with AES-CBC", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}},
			{"TLS 1.2 with RSA key exchange", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}},
		} {
			c.cfg.InsecureSkipVerify = true
			if conn, err := tls.Dial("tcp", tln.Addr().String(), c.cfg); err == nil {
				conn.Close()
				t.Errorf("a client with only %s was served", c.name)
			}
		}
		conn, err := tls.Dial("tcp", tln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("TLS 1.2 with Go's defaults: %v", err)
		}
		if st := conn.ConnectionState(); !slices.Contains(tls12Suites, st.CipherSuite) {
			t.Errorf("TLS 1.2 negotiated %s", tls.CipherSuiteName(st.CipherSuite))
		}
		conn.Close()
		_ = s.Shutdown(context.Background())
	}
}
