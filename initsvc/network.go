package main

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

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"

	"github.com/mkimage/mkimage/spec"
)

// setupNetwork brings up lo and the configured (or first real) interface.
func setupNetwork(ctx context.Context, con console, n spec.Network) {
	con.step("net lo", linkUp("lo"), "")
	name := n.Interface
	if name == "" {
		nics := realNICs()
		if len(nics) == 0 {
			con.step("net", errors.New("no network interface found"), "")
			return
		}
		name = nics[0]
	}
	if err := linkUp(name); err != nil {
		con.step("net "+name, err, "")
		return
	}
	if err := waitLink(name, 5*time.Second); err != nil {
		con.step("net "+name, err, "")
	}
	if n.DHCP {
		addr, err := dhcp(ctx, name)
		con.step("net "+name+" dhcp", err, addr)
		return
	}
	err := staticAddr(name, n)
	con.step("net "+name, err, n.Address)
	if err == nil && len(n.DNS) > 0 {
		con.step("dns", writeResolvConf(n.DNS), strings.Join(n.DNS, " "))
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

func linkUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding link %s: %w", name, err)
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
			return fmt.Errorf("no link on %s after %v", name, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func staticAddr(name string, n spec.Network) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding link %s: %w", name, err)
	}
	addr, err := netlink.ParseAddr(n.Address)
	if err != nil {
		return fmt.Errorf("parsing address %s: %w", n.Address, err)
	}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("adding %s to %s: %w", n.Address, name, err)
	}
	if n.Gateway == "" {
		return nil
	}
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil {
		return fmt.Errorf("parsing gateway %s: %w", n.Gateway, err)
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.IP(gw.AsSlice())}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("adding default route via %s: %w", gw, err)
	}
	return nil
}

// dhcp obtains a DHCPv4 lease and applies address, router and DNS.
func dhcp(ctx context.Context, name string) (string, error) {
	c, err := nclient4.New(name, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(5))
	if err != nil {
		return "", fmt.Errorf("starting DHCP on %s: %w", name, err)
	}
	defer c.Close()
	lease, err := c.Request(ctx)
	if err != nil {
		return "", fmt.Errorf("no DHCP lease on %s: %w", name, err)
	}
	ack := lease.ACK
	ones, _ := ack.SubnetMask().Size()
	n := spec.Network{Address: fmt.Sprintf("%s/%d", ack.YourIPAddr, ones)}
	if r := ack.Router(); len(r) > 0 {
		n.Gateway = r[0].String()
	}
	if err := staticAddr(name, n); err != nil {
		return "", err
	}
	var dns []string
	for _, d := range ack.DNS() {
		dns = append(dns, d.String())
	}
	if len(dns) > 0 {
		if err := writeResolvConf(dns); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s gw=%s dns=%v lease=%v", n.Address, n.Gateway, dns, ack.IPAddressLeaseTime(dhcpv4.MaxLeaseTime)), nil
}

func writeResolvConf(servers []string) error {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if err := os.WriteFile("/etc/resolv.conf", []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing /etc/resolv.conf: %w", err)
	}
	return nil
}
