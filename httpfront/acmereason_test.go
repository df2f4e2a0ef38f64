//go:build !noacme

package httpfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mholt/acmez/v3/acme"
)

func TestACMEReason(t *testing.T) {
	problem := func(typ string) error {
		return fmt.Errorf("[app.test] Obtain: solving challenge: %w", acme.Problem{Type: "urn:ietf:params:acme:error:" + typ, Detail: "the CA's words"})
	}
	for _, tc := range []struct {
		name string
		err  error
		want string // in the reason; "" for none
	}{
		{"rate limited", problem("rateLimited"), "rate limited"},
		{"no DNS", problem("dns"), "finds no address"},
		{"unreachable for the challenge", problem("connection"), "DNS does not point at this appliance, or ports 80 and 443"},
		{"another server answered", problem("unauthorized"), "could not verify"},
		{"subproblem", acme.Problem{Type: "urn:ietf:params:acme:error:malformed", Subproblems: []acme.Subproblem{{Problem: acme.Problem{Type: "urn:ietf:params:acme:error:caa"}}}}, "CAA"},
		{"problem in words only", errors.New("HTTP 429 urn:ietf:params:acme:error:rateLimited - too many"), "rate limited"},
		{"CA down", fmt.Errorf("fetching directory: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}), "cannot be reached"},
		{"CA name unknown", fmt.Errorf("fetching directory: %w", &net.DNSError{Err: "no such host", Name: "acme.example"}), "cannot be reached"},
		{"other", errors.New("account key rejected"), ""},
		{"none", nil, ""},
	} {
		got := acmeReason(tc.err)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: reason %q, want one with %q", tc.name, got, tc.want)
		}
	}
}

// TestACMEErrorBounded: a CA's error of any length is kept and logged
// as one line of at most maxCAError bytes.
func TestACMEErrorBounded(t *testing.T) {
	var logged []string
	a := &autoTLS{state: map[string]*domainState{}, logf: func(f string, args ...any) { logged = append(logged, fmt.Sprintf(f, args...)) }}
	huge := acme.Problem{Type: "urn:ietf:params:acme:error:rateLimited", Detail: strings.Repeat("ü\n", 1<<20)}
	_ = a.onEvent(context.Background(), "cert_failed", map[string]any{"identifier": "a.example", "error": error(huge)})
	st := a.stateOf("a.example")
	if len(st.lastError) > maxCAError || !utf8.ValidString(st.lastError) || strings.Contains(st.lastError, "\n") || !strings.HasSuffix(st.lastError, "[cut]") {
		t.Errorf("kept %d bytes (valid UTF-8 %v), want at most %d on one line, marked cut", len(st.lastError), utf8.ValidString(st.lastError), maxCAError)
	}
	if len(logged) != 1 || len(logged[0]) > maxCAError+200 || strings.Contains(logged[0], "\n") {
		t.Errorf("logged %d lines, the first %d bytes", len(logged), len(logged[0]))
	}
	if !strings.Contains(st.reason, "rate limited") {
		t.Errorf("reason %q", st.reason)
	}
}
