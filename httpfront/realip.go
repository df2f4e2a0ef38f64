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
	trusted []netip.Prefix
}

func newRealIP(cidrs []string) (*realIP, error) {
	if len(cidrs) == 0 {
		return nil, nil
	}
	r := &realIP{}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", c, err)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

func (ri *realIP) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ri.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// apply rewrites r.RemoteAddr when the request came through trusted proxies.
func (ri *realIP) apply(r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !ri.isTrusted(peer) {
		return
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return // a malformed hop: keep the proxy's own address
		}
		if !ri.isTrusted(a) || i == 0 {
			r.RemoteAddr = netip.AddrPortFrom(a.Unmap(), 0).String()
			return
		}
	}
}
