package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Network configures the first real interface (or the one named), and
// Extra any further ones.
type Network struct {
	Interface
	Extra []Interface `toml:"extra"`
	// NTP lists servers (names or addresses) to set the clock from at boot and
	// every hour; a VPS often has no reliable clock.
	NTP []string `toml:"ntp"`
}

// Interface is one network interface's settings.
type Interface struct {
	Interface string   `toml:"interface"` // "" (first only): the first real NIC
	DHCP      bool     `toml:"dhcp"`      // DHCPv4, with lease renewal
	Address   string   `toml:"address"`   // IPv4 or IPv6 with prefix length
	Addresses []string `toml:"addresses"` // more addresses
	Gateway   string   `toml:"gateway"`   // IPv4 default route
	Gateway6  string   `toml:"gateway6"`  // IPv6 default route
	DNS       []string `toml:"dns"`       // name servers, for /etc/resolv.conf
	MTU       int      `toml:"mtu"`       // 576 to 65535; default: the driver's
	// SLAAC lets the kernel configure IPv6 from router advertisements;
	// on unless set to false.
	SLAAC *bool `toml:"slaac"`
	// LinkTimeout is how long to wait for a carrier, a duration (default
	// "5s", or the board's).
	LinkTimeout string `toml:"link_timeout"`
}

func (n *Network) applyDefaults() {
	if !n.DHCP && n.Address == "" && len(n.Addresses) == 0 {
		n.DHCP = true
	}
}

// AllInterfaces returns the first interface followed by the extra ones.
func (n Network) AllInterfaces() []Interface {
	return append([]Interface{n.Interface}, n.Extra...)
}

func (c *Config) validateNetwork() error {
	var errs []error
	for _, s := range c.Network.NTP {
		host := s
		if h, _, err := net.SplitHostPort(s); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, " /\t") {
			errs = append(errs, c.errf("network.ntp", "%q is not a host name or address", s))
		}
	}
	names := map[string]bool{}
	for i, ifc := range c.Network.AllInterfaces() {
		key := "network"
		if i > 0 {
			key = fmt.Sprintf("network.extra.%d", i-1)
			if ifc.Interface == "" {
				errs = append(errs, c.errf(key+".interface", "missing: extra interfaces need a name like eth1"))
			}
		}
		if ifc.Interface != "" {
			if !nameRE.MatchString(strings.ToLower(ifc.Interface)) {
				errs = append(errs, c.errf(key+".interface", "%q is not an interface name", ifc.Interface))
			}
			if names[ifc.Interface] {
				errs = append(errs, c.errf(key+".interface", "%s is configured twice", ifc.Interface))
			}
			names[ifc.Interface] = true
		}
		if err := c.validateInterface(key, ifc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Config) validateInterface(key string, n Interface) error {
	var prefixes []netip.Prefix
	for j, a := range append([]string{n.Address}, n.Addresses...) {
		if a == "" && j == 0 {
			continue
		}
		p, err := netip.ParsePrefix(a)
		if err != nil {
			k := key + ".address"
			if j > 0 {
				k = key + ".addresses"
			}
			return c.errf(k, "%q is not an address with prefix length, e.g. 10.0.2.15/24 or fd00::15/64", a)
		}
		prefixes = append(prefixes, p)
	}
	if n.DHCP && n.Address != "" && netip.MustParsePrefix(n.Address).Addr().Is4() {
		return c.errf(key+".dhcp", "dhcp = true and a static IPv4 address exclude each other")
	}
	if n.DHCP && n.Gateway != "" {
		return c.errf(key+".dhcp", "dhcp = true and a static IPv4 gateway exclude each other")
	}
	for _, g := range []struct {
		key, val string
		v4       bool
	}{{"gateway", n.Gateway, true}, {"gateway6", n.Gateway6, false}} {
		if g.val == "" {
			continue
		}
		addr, err := netip.ParseAddr(g.val)
		if err != nil || addr.Is4() != g.v4 {
			return c.errf(key+"."+g.key, "%q is not an IPv%s address", g.val, map[bool]string{true: "4", false: "6"}[g.v4])
		}
		if g.v4 && !n.DHCP && !inAny(prefixes, addr) {
			return c.errf(key+"."+g.key, "gateway %s is not inside any address's network", addr)
		}
	}
	for i, d := range n.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return c.errf(key+".dns", "entry %d: %q is not an IP address", i+1, d)
		}
	}
	if n.MTU != 0 && (n.MTU < 576 || n.MTU > 65535) {
		return c.errf(key+".mtu", "%d: use 576 to 65535", n.MTU)
	}
	if n.LinkTimeout != "" {
		if d, err := time.ParseDuration(n.LinkTimeout); err != nil || d < 0 {
			return c.errf(key+".link_timeout", "%q is not a duration like \"5s\"", n.LinkTimeout)
		}
	}
	return nil
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Masked().Contains(a) {
			return true
		}
	}
	return false
}
