package initsvc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
)

// setupNetwork brings up lo and every configured interface. Failures are
// printed and boot goes on: the console is then the way to find out why.
func setupNetwork(ctx context.Context, con console, ifaces []spec.Interface) {
	con.step("net lo", linkUp("lo", 0), "")
	var dns []string
	nics := realNICs()
	for i, n := range ifaces {
		name := n.Name
		if name == "" {
			// USB NICs (a Raspberry Pi's) show up a while after boot.
			nics = waitNICs(nics, linkTimeout(n))
			if len(nics) == 0 {
				con.step("net", errors.New("no network interface found (no /sys/class/net/*/device)"), "")
				continue
			}
			name = nics[0]
		} else if err := waitLinkExists(name, linkTimeout(n)); err != nil {
			con.step("net "+name, err, "")
			continue
		}
		if i == 0 && n.Name == "" {
			con.step("net", nil, "interfaces: "+strings.Join(nics, " "))
		}
		dns = append(dns, setupInterface(ctx, con, name, n)...)
	}
	if len(dns) > 0 {
		con.step("dns", writeResolvConf(dns), strings.Join(dns, " "))
	}
}

// setupInterface configures one interface and returns its DNS servers.
func setupInterface(ctx context.Context, con console, name string, n spec.Interface) []string {
	step := "net " + name
	if err := setSLAAC(name, n.SLAAC); err != nil {
		con.step(step+" slaac", err, "")
	}
	if err := linkUp(name, n.MTU); err != nil {
		con.step(step, err, "")
		return nil
	}
	if err := waitLink(name, linkTimeout(n)); err != nil {
		con.step(step, err, "")
	}
	dns := n.DNS
	if len(n.Addresses) > 0 {
		err := staticAddrs(name, n)
		detail := strings.Join(n.Addresses, " ")
		if n.MTU > 0 {
			detail += fmt.Sprintf(" mtu %d", n.MTU)
		}
		con.step(step, err, detail)
	}
	if n.DHCP {
		l, err := dhcpStart(ctx, name)
		if err != nil {
			con.step(step+" dhcp", err, "")
		} else {
			con.step(step+" dhcp", nil, l.String())
			dns = append(dns, l.dns...)
			go l.renew(ctx, con)
		}
	}
	if n.SLAAC {
		go reportSLAAC(con, name, 10*time.Second)
	}
	return dns
}

// linkTimeout is how long to wait for an interface and its carrier.
func linkTimeout(n spec.Interface) time.Duration {
	if d, err := time.ParseDuration(n.LinkTimeout); err == nil {
		return d
	}
	return 5 * time.Second
}

// waitNICs polls for real NICs until one exists or timeout passes.
func waitNICs(nics []string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for len(nics) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		nics = realNICs()
	}
	return nics
}

// waitLinkExists waits for a named interface to appear.
func waitLinkExists(name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat("/sys/class/net/" + name); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no interface %s after %v", name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// realNICs lists interfaces backed by a device, sorted: tunnels such as
// sit0 have no /sys/class/net/X/device and may show up first.
func realNICs() []string {
	devs, _ := filepath.Glob("/sys/class/net/*/device")
	var out []string
	for _, d := range devs {
		out = append(out, filepath.Base(filepath.Dir(d)))
	}
	sort.Strings(out)
	return out
}

func linkUp(name string, mtu int) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding link %s: %w", name, err)
	}
	if mtu > 0 {
		if err := netlink.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("setting MTU %d on %s: %w", mtu, name, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("bringing %s up: %w", name, err)
	}
	return nil
}

func waitLink(name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile("/sys/class/net/" + name + "/carrier")
		if err == nil && strings.TrimSpace(string(data)) == "1" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no link on %s after %v (cable, or the VM's NIC?)", name, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// staticAddrs adds the configured addresses and default routes.
func staticAddrs(name string, n spec.Interface) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding link %s: %w", name, err)
	}
	for _, a := range n.Addresses {
		addr, err := netlink.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("parsing address %s: %w", a, err)
		}
		if err := netlink.AddrReplace(l, addr); err != nil {
			return fmt.Errorf("adding %s to %s: %w", a, name, err)
		}
	}
	for _, gw := range []string{n.Gateway, n.Gateway6} {
		if gw == "" {
			continue
		}
		if err := defaultRoute(l, gw); err != nil {
			return err
		}
	}
	return nil
}

func defaultRoute(l netlink.Link, gateway string) error {
	gw, err := netip.ParseAddr(gateway)
	if err != nil {
		return fmt.Errorf("parsing gateway %s: %w", gateway, err)
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.IP(gw.AsSlice())}
	if gw.Is6() {
		route.Family = netlink.FAMILY_V6
	}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("adding default route via %s: %w", gw, err)
	}
	return nil
}

// setSLAAC switches IPv6 autoconfiguration from router advertisements.
func setSLAAC(name string, on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	for _, k := range []string{"accept_ra", "autoconf"} {
		p := filepath.Join("/proc/sys/net/ipv6/conf", name, k)
		if _, err := os.Stat(p); err != nil {
			return nil // no IPv6 in this kernel
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			return fmt.Errorf("setting %s: %w", p, err)
		}
	}
	return nil
}

// reportSLAAC prints the first global IPv6 address the kernel configures.
func reportSLAAC(con console, name string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l, err := netlink.LinkByName(name); err == nil {
			addrs, _ := netlink.AddrList(l, netlink.FAMILY_V6)
			for _, a := range addrs {
				if a.IP.IsGlobalUnicast() && a.Flags&unix.IFA_F_PERMANENT == 0 { // learned, not configured
					con.step("net "+name+" slaac", nil, a.IPNet.String())
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func writeResolvConf(servers []string) error {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if err := os.MkdirAll(filepath.Dir(spec.ResolvConfPath), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", spec.ResolvConfPath, err)
	}
	if err := os.WriteFile(spec.ResolvConfPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", spec.ResolvConfPath, err)
	}
	return nil
}
