package httpfront

import (
	"fmt"
	"net/netip"
)

// cidrs is a list of networks, for the status page's allow list and the
// trusted reverse proxies.
type cidrs []netip.Prefix

func parseCIDRs(list []string) (cidrs, error) {
	var out cidrs
	for _, c := range list {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", c, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// contains reports whether a (IPv4-mapped IPv6 counts as IPv4) is inside
// one of the networks.
func (cs cidrs) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range cs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
