package qemu

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

func TestParseGuestFwd(t *testing.T) {
	for _, tc := range []struct {
		in, opt, err string
	}{
		{in: "10.0.2.100:14000=127.0.0.1:5000", opt: "guestfwd=tcp:10.0.2.100:14000-cmd:/bin/mk relay 127.0.0.1:5000"},
		{in: "10.0.2.100:14000=[::1]:5000", opt: "guestfwd=tcp:10.0.2.100:14000-cmd:/bin/mk relay [::1]:5000"},
		{in: "10.0.2.100:14000=192.168.1.5:5000", err: "not a loopback"},
		{in: "10.0.2.100:14000=example.org:5000", err: "not a loopback"},
		{in: "[fd00::1]:14000=127.0.0.1:5000", err: "not an IPv4"},
		{in: "10.0.2.100=127.0.0.1:5000", err: "not an IPv4"},
		{in: "10.0.2.100:14000", err: "want GUESTADDR"},
	} {
		f, err := ParseGuestFwd(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if opt, err := f.netdevOpt("/bin/mk relay"); err != nil || opt != tc.opt {
			t.Errorf("%q: option %q, %v; want %q", tc.in, opt, err, tc.opt)
		}
		if _, err := f.netdevOpt("/my,dir/mk relay"); err == nil {
			t.Errorf("%q: a relay path with a comma went into QEMU's option", tc.in)
		}
	}
}

// TestRelay: what the guest writes reaches the host's service, its
// answer comes back, and a non-loopback target is refused.
func TestRelay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the relay's CloseWrite
		_, _ = c.Write(bytes.ToUpper(b))
	}()
	var out bytes.Buffer
	if err := Relay(strings.NewReader("hello guest"), &out, ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "HELLO GUEST" {
		t.Errorf("relayed answer %q", out.String())
	}
	if err := Relay(strings.NewReader(""), io.Discard, "10.0.2.2:80"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("relay to 10.0.2.2: %v, want a refusal", err)
	}
}
