package httpfront

import (
	"net/http/httptest"
	"testing"
)

func TestRealIP(t *testing.T) {
	ri, err := newRealIP([]string{"10.0.0.0/8", "::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		remote, xff, want string
	}{
		{"10.0.0.5:4000", "203.0.113.7", "203.0.113.7:0"},
		{"10.0.0.5:4000", "198.51.100.1, 203.0.113.7, 10.0.0.9", "203.0.113.7:0"}, // rightmost untrusted
		{"192.0.2.1:4000", "203.0.113.7", "192.0.2.1:4000"},                       // untrusted peer: header ignored
		{"10.0.0.5:4000", "", "10.0.0.5:4000"},
		{"10.0.0.5:4000", "not-an-ip", "10.0.0.5:4000"},
		{"10.0.0.5:4000", "10.1.1.1, 10.2.2.2", "10.1.1.1:0"}, // all trusted: the first
		{"[::1]:80", "2001:db8::1", "[2001:db8::1]:0"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		ri.apply(r)
		if r.RemoteAddr != tt.want {
			t.Errorf("%s + %q: %s, want %s", tt.remote, tt.xff, r.RemoteAddr, tt.want)
		}
	}
	if ri, err := newRealIP(nil); ri != nil || err != nil {
		t.Errorf("no proxies: %v %v", ri, err)
	}
	if _, err := newRealIP([]string{"x"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}
