package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strings"
	"time"
)

// Web is the static side and the front end's server settings: lighttpd's
// server.document-root, alias.url, dir-listing, expire/setenv rules,
// server.max-*-idle, ssl.* and the fastcgi.server defaults.
type Web struct {
	// Root is the directory of static files to serve (required; lighttpd's
	// server.document-root), relative to this file.
	Root string `toml:"root"`
	// Index names the files served for a directory. Default: ["index.html"].
	Index   []string `toml:"index"`
	Aliases []Alias  `toml:"alias"`
	// DirListing serves a listing of directories without an index file.
	DirListing bool `toml:"dir_listing"`
	// CacheControl rules for static files, first match wins.
	CacheControl []CacheRule `toml:"cache_control"`
	// AccessLog is "stdout" (default) or "off".
	AccessLog string `toml:"access_log"`
	// ReadHeaderTimeout bounds reading a request's head, a duration like
	// "10s" (default; whole milliseconds, up to 24h, as every duration).
	ReadHeaderTimeout string `toml:"read_header_timeout"`
	// ReadBodyTimeout bounds each read of a request body, a duration.
	// Default: "30s".
	ReadBodyTimeout string `toml:"read_body_timeout"`
	// WriteTimeout bounds each write of a response, a duration. Default: "30s".
	WriteTimeout string `toml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long, a
	// duration. Default: "60s".
	IdleTimeout string `toml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's head, 1024 to 1048576 (431
	// above). Default: 16384.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// MaxBodyBytes bounds one request body (413 above). Default: 67108864.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// SpoolBytes bounds all request bodies of unknown length (chunked
	// uploads) spooled at once; 0: 4x max_body_bytes, at most 1/8 of RAM
	// when /data is in RAM.
	SpoolBytes int64 `toml:"spool_bytes"`
	// TLSDir holds cert.pem and key.pem; when set the appliance also
	// serves HTTPS (with HTTP/2) on tls_listen (default ":443"). The
	// older name of [web.tls] dir (set one of them).
	TLSDir string `toml:"tls_dir"`
	// TLSListen is the HTTPS address, [host]:port. Default: ":443". The
	// older name of [web.tls] listen (set one of them).
	TLSListen string `toml:"tls_listen"`
	// TLS is HTTPS: a certificate of one's own or ACME.
	TLS     TLS     `toml:"tls"`
	FastCGI FastCGI `toml:"fastcgi"`
	// Status serves init's status page (uptime, memory, tuning, services).
	Status Status `toml:"status"`
	// TrustedProxies are reverse proxies (CIDRs) whose X-Forwarded-For
	// header names the real client (nginx's real_ip_from).
	TrustedProxies []string `toml:"trusted_proxies"`
}

// Status is the status page: off unless Path is set; only clients inside
// Allow (default: loopback) may see it.
type Status struct {
	// Path is the status page's URL path, e.g. "/.status" (its JSON at Path +
	// ".json"). Default: none, the page is off.
	Path string `toml:"path"`
	// Allow lists the networks (CIDRs) whose clients may see it.
	// Default: loopback only.
	Allow []string `toml:"allow"`
}

// Alias serves Dir under the URL prefix Prefix.
type Alias struct {
	Prefix string `toml:"prefix"` // the URL prefix, e.g. "/images" (required)
	Dir    string `toml:"dir"`    // the directory served there, relative to this file (required)
	// Host is a regular expression the request's host must match.
	Host string `toml:"host"`
}

// CacheRule sets Cache-Control for paths under Prefix (and, when Ext is
// set, with one of those extensions).
type CacheRule struct {
	Prefix string   `toml:"prefix"` // the URL prefix the rule applies under (required)
	Ext    []string `toml:"ext"`    // file extensions like ".css"; empty: every file
	Value  string   `toml:"value"`  // the Cache-Control value, e.g. "max-age=86400" (required)
}

// FastCGI holds the defaults of every app's backend connections.
type FastCGI struct {
	// ConnectTimeout bounds connecting to a backend, a duration.
	// Default: "2s".
	ConnectTimeout string `toml:"connect_timeout"`
	// ResponseTimeout bounds waiting for a backend's answer, a duration
	// (504 beyond). Default: "60s".
	ResponseTimeout string `toml:"response_timeout"`
	// DownTime keeps a backend that refused connections out of the
	// rotation this long, a duration. Default: "1s".
	DownTime string `toml:"down_time"`
	// KeepConn is "on" (reuse backend connections), "off" (one per request,
	// lighttpd's way) or empty (default): reuse with backends that say
	// they serve several connections.
	KeepConn string `toml:"keep_conn"`
	// MaxHeaderBytes bounds an app's CGI response header block (502 above);
	// 0 is the default, 64 KiB.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// XSendfile lists directories in the image apps may send files from.
	XSendfile []string `toml:"x_sendfile"`
}

// Duration parses one of the [web] duration keys; "" is 0 (default).
func Duration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > 24*time.Hour {
		return 0, fmt.Errorf("%q: want a duration like \"10s\" (up to 24h)", s)
	}
	if d < time.Millisecond || d%time.Millisecond != 0 {
		// The image carries milliseconds: a finer value would silently
		// become another one (under 1 ms: the default).
		return 0, fmt.Errorf("%q: want whole milliseconds, like \"250ms\"", s)
	}
	return d, nil
}

func (c *Config) validateWeb() error {
	var errs []error
	w := c.Web
	if w.Root == "" {
		errs = append(errs, c.errf("web.root", "missing: the directory of static files to serve (lighttpd's server.document-root)"))
	} else if err := isDir(c.Resolve(w.Root)); err != nil {
		errs = append(errs, c.errf("web.root", "%v", err))
	}
	for _, ix := range w.Index {
		if ix == "" || strings.ContainsAny(ix, "/\\") || hasControl(ix) {
			errs = append(errs, c.errf("web.index", "%q is not a file name", ix))
		}
	}
	if err := c.validateAliases(); err != nil {
		errs = append(errs, err)
	}
	for i, r := range w.CacheControl {
		key := fmt.Sprintf("web.cache_control.%d", i)
		if err := checkPrefix(r.Prefix); err != nil {
			errs = append(errs, c.errf(key+".prefix", "%v", err))
		}
		if r.Value == "" || hasControl(r.Value) {
			errs = append(errs, c.errf(key+".value", "%q is not a Cache-Control value", r.Value))
		}
		for _, e := range r.Ext {
			if !strings.HasPrefix(e, ".") || strings.Contains(e, "/") {
				errs = append(errs, c.errf(key+".ext", "%q: an extension looks like \".css\"", e))
			}
		}
	}
	if w.AccessLog != "" && w.AccessLog != "stdout" && w.AccessLog != "off" {
		errs = append(errs, c.errf("web.access_log", "%q: use \"stdout\" or \"off\"", w.AccessLog))
	}
	errs = append(errs, c.validateServerKeys())
	return errors.Join(errs...)
}

func (c *Config) validateAliases() error {
	var errs []error
	seen := map[string]bool{}
	for i, a := range c.Web.Aliases {
		key := fmt.Sprintf("web.alias.%d", i)
		if err := checkPrefix(a.Prefix); err != nil || a.Prefix == "/" {
			errs = append(errs, c.errf(key+".prefix", "%q: an alias needs a prefix like /images", a.Prefix))
		}
		if seen[a.Prefix+" "+a.Host] {
			errs = append(errs, c.errf(key+".prefix", "prefix %s is aliased twice", a.Prefix))
		}
		seen[a.Prefix+" "+a.Host] = true
		if err := isDir(c.Resolve(a.Dir)); err != nil {
			errs = append(errs, c.errf(key+".dir", "%v", err))
		}
		if _, err := regexp.Compile(a.Host); err != nil {
			errs = append(errs, c.errf(key+".host", "%q is not a regular expression: %v", a.Host, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) validateServerKeys() error {
	var errs []error
	w := c.Web
	durations := map[string]string{
		"web.read_header_timeout": w.ReadHeaderTimeout, "web.read_body_timeout": w.ReadBodyTimeout,
		"web.write_timeout": w.WriteTimeout, "web.idle_timeout": w.IdleTimeout,
	}
	for key, v := range durations {
		if _, err := Duration(v); err != nil {
			errs = append(errs, c.errf(key, "%v", err))
		}
	}
	if w.MaxHeaderBytes < 0 || (w.MaxHeaderBytes > 0 && w.MaxHeaderBytes < 1024) || w.MaxHeaderBytes > 1<<20 {
		errs = append(errs, c.errf("web.max_header_bytes", "%d: use 1024 to 1048576 bytes", w.MaxHeaderBytes))
	}
	if w.MaxBodyBytes < 0 {
		errs = append(errs, c.errf("web.max_body_bytes", "%d: a size in bytes, 0 for the default (64 MiB)", w.MaxBodyBytes))
	}
	if w.SpoolBytes < 0 || (w.SpoolBytes > 0 && w.SpoolBytes < 1<<20) {
		errs = append(errs, c.errf("web.spool_bytes", "%d: at least 1048576 bytes, or 0 for the default (4x max_body_bytes)", w.SpoolBytes))
	}
	errs = append(errs, c.validateTLS())
	if err := c.validateStatus(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateFastCGI("web.fastcgi", w.FastCGI))
	return errors.Join(errs...)
}

func (c *Config) validateStatus() error {
	var errs []error
	st := c.Web.Status
	if st.Path != "" {
		if err := checkPrefix(st.Path); err != nil || st.Path == "/" {
			errs = append(errs, c.errf("web.status.path", "%q: a path like /.status", st.Path))
		}
	}
	for _, a := range c.Web.TrustedProxies {
		if _, err := netip.ParsePrefix(a); err != nil {
			errs = append(errs, c.errf("web.trusted_proxies", "%q is not a network like 192.0.2.10/32", a))
		}
	}
	for _, a := range st.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			errs = append(errs, c.errf("web.status.allow", "%q is not a network like 10.0.2.2/32", a))
		}
	}
	return errors.Join(errs...)
}

// validateFastCGI checks backend connection settings, for [web.fastcgi]
// and each app's own [app.fastcgi].
func (c *Config) validateFastCGI(key string, f FastCGI) error {
	var errs []error
	for k, v := range map[string]string{"connect_timeout": f.ConnectTimeout, "response_timeout": f.ResponseTimeout, "down_time": f.DownTime} {
		if _, err := Duration(v); err != nil {
			errs = append(errs, c.errf(key+"."+k, "%v", err))
		}
	}
	if f.MaxHeaderBytes < 0 || (f.MaxHeaderBytes > 0 && f.MaxHeaderBytes < 1024) || f.MaxHeaderBytes > 16<<20 {
		errs = append(errs, c.errf(key+".max_header_bytes", "%d: use 1024 to 16777216 bytes (0: 64 KiB)", f.MaxHeaderBytes))
	}
	switch f.KeepConn {
	case "", "on", "off":
	default:
		errs = append(errs, c.errf(key+".keep_conn", "%q: use \"on\" or \"off\"", f.KeepConn))
	}
	for _, d := range f.XSendfile {
		if !path.IsAbs(d) || path.Clean(d) != d || hasControl(d) {
			errs = append(errs, c.errf(key+".x_sendfile", "%q: a clean absolute directory in the image, like /srv/www/downloads", d))
		}
	}
	return errors.Join(errs...)
}
