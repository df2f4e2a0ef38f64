package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mkimage/mkimage/bundle"
)

// Update says how the appliance takes signed system updates (`mkimage
// update`): where it listens, who may connect, which keys it trusts and
// how a new version proves itself in its trial boot. Updates are off
// unless listen is set.
type Update struct {
	// Listen is where the appliance receives updates: a port (":4711")
	// or address:port. Empty (default): updates are off.
	Listen string `toml:"listen"`
	// Allow lists the networks (CIDRs) that may connect to Listen;
	// required with listen.
	Allow []string `toml:"allow"`
	// Keys are the public keys ("mkimage-ed25519 ...") whose bundles the
	// appliance installs. Default: the key `mkimage keygen` made
	// (update.pub in the user's config directory), read at build time.
	Keys []string `toml:"keys"`
	// Version is this build's version, a semantic version like "1.4.0";
	// an update must carry a newer one (or be a signed downgrade).
	// Required with listen.
	Version string `toml:"version"`
	// Health is a URL path on the front end (e.g. "/app/health") that must
	// answer 2xx before a new version is kept. Default: none (init's own
	// readiness suffices).
	Health string `toml:"health"`
	// Deadline is how long a new version has to become healthy in its
	// trial boot before the appliance goes back to the old one. Default:
	// "180s".
	Deadline string `toml:"deadline"`
}

// On reports whether the appliance takes updates.
func (u Update) On() bool { return u.Listen != "" }

// ListenPort returns Listen's port.
func (u Update) ListenPort() (int, error) {
	s := u.Listen
	if !strings.Contains(s, ":") {
		s = ":" + s
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a port like \":4711\" or an address:port", u.Listen)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q: the port must be 1 to 65535", u.Listen)
	}
	return n, nil
}

func (c *Config) validateUpdate() error {
	u := c.Update
	if !u.On() {
		if u.Version != "" || len(u.Allow) > 0 || len(u.Keys) > 0 || u.Health != "" || u.Deadline != "" {
			return c.errf("update", "the section has settings but no listen: updates are off without listen = \":PORT\"")
		}
		return nil
	}
	var errs []error
	if port, err := u.ListenPort(); err != nil {
		errs = append(errs, c.errf("update.listen", "%v", err))
	} else if port == 80 || port == c.tlsPort() {
		errs = append(errs, c.errf("update.listen", "port %d is the front end's", port))
	}
	if len(u.Allow) == 0 {
		errs = append(errs, c.errf("update.allow", "missing: the networks that may send updates, e.g. [\"192.0.2.10/32\"]"))
	}
	for _, a := range u.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			errs = append(errs, c.errf("update.allow", "%q is not a network like 192.0.2.10/32", a))
		}
	}
	for i, k := range u.Keys {
		if _, _, err := bundle.ParsePublic(k); err != nil {
			errs = append(errs, c.errf(fmt.Sprintf("update.keys.%d", i), "%v", err))
		}
	}
	if u.Version == "" {
		errs = append(errs, c.errf("update", "version is missing: this build's version, like \"1.0.0\" (an update must carry a newer one)"))
	} else if err := bundle.ValidVersion(u.Version); err != nil {
		errs = append(errs, c.errf("update.version", "%v", err))
	}
	if u.Health != "" && !strings.HasPrefix(u.Health, "/") {
		errs = append(errs, c.errf("update.health", "%q: want a URL path like /app/health", u.Health))
	}
	if d, err := Duration(u.Deadline); err != nil {
		errs = append(errs, c.errf("update.deadline", "%v", err))
	} else if u.Deadline != "" && d.Seconds() < 10 {
		errs = append(errs, c.errf("update.deadline", "%q: a trial boot needs at least 10s", u.Deadline))
	}
	return errors.Join(errs...)
}

// tlsPort is the port of [web.tls] listen when HTTPS is on, else 0.
func (c *Config) tlsPort() int {
	if !c.HTTPS() {
		return 0
	}
	l := c.TLSListen()
	if l == "" {
		l = ":443"
	}
	_, p, err := net.SplitHostPort(l)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
