package initsvc

import (
	"context"
	"fmt"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"

	"github.com/mkimage/mkimage/spec"
)

// lease is a DHCPv4 lease applied to an interface.
type lease struct {
	name   string
	client *nclient4.Client
	l      *nclient4.Lease
	addr   string
	gw     string
	dns    []string
	time   time.Duration
}

func (l *lease) String() string {
	return fmt.Sprintf("%s gw=%s dns=%v lease=%v", l.addr, l.gw, l.dns, l.time)
}

// dhcpStart obtains a lease and applies address and router.
func dhcpStart(ctx context.Context, name string) (*lease, error) {
	c, err := nclient4.New(name, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(5))
	if err != nil {
		return nil, fmt.Errorf("starting DHCP on %s: %w", name, err)
	}
	nl, err := c.Request(ctx)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("no DHCP lease on %s: %w", name, err)
	}
	l := &lease{name: name, client: c}
	if err := l.apply(nl); err != nil {
		c.Close()
		return nil, err
	}
	return l, nil
}

func (l *lease) apply(nl *nclient4.Lease) error {
	ack := nl.ACK
	ones, _ := ack.SubnetMask().Size()
	n := spec.Interface{Addresses: []string{fmt.Sprintf("%s/%d", ack.YourIPAddr, ones)}}
	if r := ack.Router(); len(r) > 0 {
		n.Gateway = r[0].String()
	}
	if l.addr != "" && l.addr != n.Addresses[0] {
		if link, err := netlink.LinkByName(l.name); err == nil {
			if old, err := netlink.ParseAddr(l.addr); err == nil {
				_ = netlink.AddrDel(link, old)
			}
		}
	}
	if err := staticAddrs(l.name, n); err != nil {
		return err
	}
	l.l, l.addr, l.gw = nl, n.Addresses[0], n.Gateway
	l.dns = l.dns[:0]
	for _, d := range ack.DNS() {
		l.dns = append(l.dns, d.String())
	}
	l.time = ack.IPAddressLeaseTime(time.Hour)
	return nil
}

// renew keeps the lease: renew at half its time, retry every 30 s (at most
// the remaining half), start over with a new DISCOVER when it expired.
func (l *lease) renew(ctx context.Context, con console) {
	defer l.client.Close()
	for {
		wait := l.time / 2
		if wait < 10*time.Second {
			wait = 10 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		expiry := time.Now().Add(l.time - wait)
		for {
			nl, err := l.client.Renew(ctx, l.l)
			if err == nil {
				err = l.apply(nl)
			}
			if err == nil {
				con.step("net "+l.name+" dhcp renew", nil, l.String())
				break
			}
			if time.Now().After(expiry) {
				con.step("net "+l.name+" dhcp renew", fmt.Errorf("lease expired: %w; asking again", err), "")
				if nl, err := l.client.Request(ctx); err == nil && l.apply(nl) == nil {
					con.step("net "+l.name+" dhcp", nil, l.String())
					break
				}
				expiry = time.Now().Add(30 * time.Second)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(30*time.Second, time.Until(expiry)+time.Second)):
			}
		}
	}
}
