package qemu

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/mkimage/mkimage/internal/manifest"
)

// GuestFwd lets the guest reach a service on the host's loopback: guest
// connections to Guest (an address in the user network, e.g.
// 10.0.2.100:14000) are relayed to Host (127.0.0.1:PORT or [::1]:PORT).
// QEMU runs Relay with Host as its last argument for each connection,
// the connection on its stdin and stdout (see Relay).
type GuestFwd struct {
	Guest, Host netip.AddrPort
}

// ParseGuestFwd reads "GUESTADDR:PORT=HOSTADDR:PORT", the host address on
// loopback (the guest must not reach further through it).
func ParseGuestFwd(s string) (GuestFwd, error) {
	g, h, ok := strings.Cut(s, "=")
	if !ok {
		return GuestFwd{}, fmt.Errorf("guest forward %q: want GUESTADDR:PORT=127.0.0.1:PORT", s)
	}
	var f GuestFwd
	var err error
	if f.Guest, err = netip.ParseAddrPort(g); err != nil || !f.Guest.Addr().Is4() {
		return GuestFwd{}, fmt.Errorf("guest forward %q: the guest side %q is not an IPv4 address:port in the guest's user network", s, g)
	}
	if f.Host, err = netip.ParseAddrPort(h); err != nil || !f.Host.Addr().IsLoopback() {
		return GuestFwd{}, fmt.Errorf("guest forward %q: the host side %q is not a loopback address:port", s, h)
	}
	return f, nil
}

// netdevOpt is the option of QEMU's user network for f, running relay
// (a command line, no commas) for each connection.
func (f GuestFwd) netdevOpt(relay string) (string, error) {
	if relay == "" {
		return "", fmt.Errorf("guest forward %s: no relay command", f.Guest)
	}
	cmd := relay + " " + f.Host.String()
	if strings.ContainsAny(cmd, ",'\"\n") {
		return "", fmt.Errorf("guest forward %s: the relay command %q has a comma, quote or newline QEMU's option syntax cannot carry", f.Guest, cmd)
	}
	return fmt.Sprintf("guestfwd=tcp:%s-cmd:%s", f.Guest, cmd), nil
}

// Relay copies between conn (stdin and stdout, a guest's connection as
// QEMU hands it to a guestfwd command) and a TCP connection to addr, a
// loopback address, until the host side ends: the caller then exits,
// which closes the guest's connection (stdin and stdout are one socket,
// which cannot be half-closed through one of them).
func Relay(in io.Reader, out io.Writer, addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("relay: %q is not a loopback address:port", addr)
	}
	c, err := net.Dial("tcp", ap.String())
	if err != nil {
		return fmt.Errorf("relay: connecting to %s: %w", ap, err)
	}
	defer c.Close()
	go func() {
		_, _ = io.Copy(c, in)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	if _, err = io.Copy(out, c); err != nil {
		return fmt.Errorf("relay: from %s: %w", ap, err)
	}
	return nil
}

// forwards returns the user network's options for the HTTPS port and
// opts' guest forwards, setting mc.HTTPSPort.
func (mc *Machine) forwards(m *manifest.Manifest, opts Options) (string, error) {
	var b strings.Builder
	if m.HTTPSPort > 0 {
		if mc.HTTPSPort = opts.HTTPSHostPort; mc.HTTPSPort == 0 {
			var err error
			if mc.HTTPSPort, err = FreePort(); err != nil {
				return "", err
			}
		} else if err := portFree(mc.HTTPSPort); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, ",hostfwd=tcp:127.0.0.1:%d-:%d", mc.HTTPSPort, m.HTTPSPort)
	}
	for _, f := range opts.GuestFwds {
		o, err := f.netdevOpt(opts.Relay)
		if err != nil {
			return "", err
		}
		b.WriteString("," + o)
	}
	return b.String(), nil
}
