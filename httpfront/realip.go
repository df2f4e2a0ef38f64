package httpfront

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// realIP finds the client's address behind trusted reverse proxies
// (nginx's real_ip, lighttpd's mod_extforward): when the peer is trusted,
// X-Forwarded-For is read from the right, skipping trusted hops; the first
// untrusted address is the client. Everything after it (CGI REMOTE_ADDR,
// the access log, the status page's allow list) sees that address.
type realIP struct {
	trusted cidrs
}

func newRealIP(list []string) (*realIP, error) {
	if len(list) == 0 {
		return nil, nil
	}
	trusted, err := parseCIDRs(list)
	if err != nil {
		return nil, fmt.Errorf("trusted proxy %w", err)
	}
	return &realIP{trusted: trusted}, nil
}

// apply rewrites r.RemoteAddr when the request came through trusted proxies.
func (ri *realIP) apply(r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !ri.trusted.contains(peer) {
		return
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return // a malformed hop: keep the proxy's own address
		}
		if !ri.trusted.contains(a) || i == 0 {
			r.RemoteAddr = netip.AddrPortFrom(a.Unmap(), 0).String()
			return
		}
	}
}
