//go:build !noacme

package httpfront

import (
	"errors"
	"net"
	"strings"

	"github.com/mholt/acmez/v3/acme"
)

const challengeFailed = "the CA could not verify the name here: its DNS does not point at this appliance, or ports 80 and 443 are closed to the internet"

// acmeReasons say in a user's words why the CA did not issue, by the ACME
// problem type (RFC 8555 §6.7), for the status page beside the CA's own.
var acmeReasons = []struct{ problem, reason string }{
	{"rateLimited", "rate limited: the CA issues no more for these names for now (retried later; test against a staging CA)"},
	{"dns", "DNS: the CA finds no address for the name: point its A/AAAA records at this appliance"},
	{"connection", challengeFailed},
	{"unauthorized", challengeFailed}, // pebble's word for a refused connection too
	{"incorrectResponse", challengeFailed},
	{"tls", "the CA's TLS-ALPN challenge failed at port 443: is something else answering there?"},
	{"caa", "a CAA record of the domain forbids this CA"},
	{"rejectedIdentifier", "the CA will not issue for this name"},
}

// acmeReason classifies an obtain or renew failure ("" when it has no
// known cause: the CA's message is all there is).
func acmeReason(err error) string {
	if err == nil {
		return ""
	}
	var types []string
	var p acme.Problem
	if errors.As(err, &p) {
		types = append(types, p.Type)
		for _, sp := range p.Subproblems {
			types = append(types, sp.Type)
		}
	}
	msg := err.Error()
	for _, r := range acmeReasons {
		urn := "urn:ietf:params:acme:error:" + r.problem
		for _, t := range types {
			if t == urn {
				return r.reason
			}
		}
		if strings.Contains(msg, urn) {
			return r.reason
		}
	}
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	if errors.As(err, &oe) || errors.As(err, &de) || (errors.As(err, &ne) && ne.Timeout()) || strings.Contains(msg, "connection refused") {
		return "the CA cannot be reached from here: the network, its DNS, or the CA is down (retried with back-off)"
	}
	return ""
}
