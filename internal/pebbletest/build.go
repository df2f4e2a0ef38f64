package pebbletest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// built is pebble's binary, built once per test binary.
var built = sync.OnceValues(func() (string, error) {
	// One path for every test binary, replaced by a rename: test
	// binaries running at once each build (quickly, from Go's cache) and
	// none sees a half-written file.
	bin := filepath.Join(os.TempDir(), "mkimage-pebble", "pebble")
	tmp := fmt.Sprintf("%s.%d", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/letsencrypt/pebble/v2/cmd/pebble")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building pebble: %w: %s", err, msg)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("placing pebble's binary: %w", err)
	}
	return bin, nil
})

// Binary builds pebble once per test binary, or skips the test (fails it
// with MKIMAGE_REQUIRE_PEERS=1).
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := built()
	if err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return bin
}

// StartDNS answers A 127.0.0.1 for every name (over TCP, as pebble asks)
// until the test ends; it returns its address.
func StartDNS(t testing.TB) string {
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
