package spec

// Front is httpfront's configuration. Zero values mean the documented
// defaults, so a spec written by an older build still works.
type Front struct {
	Listen  string   `json:"listen"`
	Root    string   `json:"root"`
	Index   []string `json:"index,omitempty"`
	Aliases []Alias  `json:"aliases,omitempty"`
	Apps    []App    `json:"apps,omitempty"`

	// DirListing serves an HTML listing of directories without an index
	// file (off by default, like lighttpd's dir-listing.activate).
	DirListing bool `json:"dir_listing,omitempty"`
	// CacheControl rules, first match wins; none means no Cache-Control.
	CacheControl []CacheRule `json:"cache_control,omitempty"`
	// AccessLog is "stdout" (the default when empty) or "off".
	AccessLog string `json:"access_log,omitempty"`

	// Server limits and timeouts (milliseconds; 0 = default).
	ReadHeaderTimeoutMS int   `json:"read_header_timeout_ms,omitempty"` // default 10 s
	ReadBodyTimeoutMS   int   `json:"read_body_timeout_ms,omitempty"`   // per read, default 30 s
	WriteTimeoutMS      int   `json:"write_timeout_ms,omitempty"`       // per write, default 30 s
	IdleTimeoutMS       int   `json:"idle_timeout_ms,omitempty"`        // default 60 s
	MaxHeaderBytes      int   `json:"max_header_bytes,omitempty"`       // default 16 KiB (431 above)
	MaxBodyBytes        int64 `json:"max_body_bytes,omitempty"`         // default 64 MiB (413 above)
	// TempDir receives request bodies of unknown length (chunked) before
	// they go to an app; default the system temp dir. In the image it is
	// FrontSpoolDir, which init makes.
	TempDir string `json:"temp_dir,omitempty"`
	// SpoolBytes bounds the bytes of all bodies spooled in TempDir at
	// once (503 beyond, 413 for one body over it); default four times
	// MaxBodyBytes, and on a filesystem in RAM at most 1/8 of the RAM.
	SpoolBytes int64 `json:"spool_bytes,omitempty"`

	// TLS: when TLSCert and TLSKey are set the front end also serves
	// HTTPS (with HTTP/2) on TLSListen (default ":443").
	TLSListen string `json:"tls_listen,omitempty"`
	TLSCert   string `json:"tls_cert,omitempty"`
	TLSKey    string `json:"tls_key,omitempty"`
	// RedirectHTTP answers plain HTTP for a host the front end has a
	// certificate for with a redirect to HTTPS (never the ACME
	// challenge); other hosts, and every host before its certificate
	// exists, are served on HTTP.
	RedirectHTTP bool `json:"redirect_http,omitempty"`
	// HSTS is a Strict-Transport-Security value for HTTPS answers ("":
	// none), e.g. "max-age=31536000".
	HSTS string `json:"hsts,omitempty"`
	// ACME, when set, has the front end obtain and renew its certificates
	// itself (HTTPS on TLSListen, and the HTTP-01 challenge on Listen).
	ACME *ACME `json:"acme,omitempty"`

	// FastCGI holds the defaults every App starts from.
	FastCGI FastCGI `json:"fastcgi,omitzero"`

	// TrustedProxies are CIDRs of reverse proxies whose X-Forwarded-For
	// names the real client (REMOTE_ADDR, access log, status allow list).
	TrustedProxies []string `json:"trusted_proxies,omitempty"`

	// Status, when its Path is set, serves init's status page.
	Status StatusPage `json:"status,omitzero"`
}

// ACME is automatic HTTPS: certificates for Domains from an ACME CA
// (HTTP-01 and TLS-ALPN-01 challenges), renewed before they expire, kept
// with the account key in StorageDir so that a reboot or an update does
// not ask the CA again.
type ACME struct {
	Domains []string `json:"domains"`
	Email   string   `json:"email,omitempty"`
	// CA is the ACME directory URL; "" is Let's Encrypt's production CA.
	CA string `json:"ca,omitempty"`
	// CARoots, when set, is a PEM file of the roots that sign the CA's own
	// HTTPS (a private CA, the tests' pebble); "" is the system's.
	CARoots string `json:"ca_roots,omitempty"`
	// StorageDir holds certificates, keys and the ACME account
	// (ACMEStorageDir in the image: on /data, the front end's alone).
	StorageDir string `json:"storage_dir"`
}

// ACMEStorageDir is where the front end keeps its ACME state: init makes
// it on the data partition, owned by FrontUID, mode 0700.
const ACMEStorageDir = DataDir + "/mkimage/acme"

// FrontSpoolDir is the front end's spool directory for request bodies:
// init makes it on the data partition (a tmpfs when the image was booted
// without its disk), owned by FrontUID with mode 0700, so that an app
// cannot read other clients' uploads.
const FrontSpoolDir = DataDir + "/spool"

// Alias maps a URL prefix to a directory inside the image.
type Alias struct {
	Prefix string `json:"prefix"`
	Dir    string `json:"dir"`
	// Host, when set, is a regular expression the request's host (without
	// port) must match (lighttpd's $HTTP["host"] =~ "...").
	Host string `json:"host,omitempty"`
}

// CacheRule sets Cache-Control for static files whose URL path starts with
// Prefix and, when Ext is set, ends with one of its extensions (".css").
type CacheRule struct {
	Prefix string   `json:"prefix"`
	Ext    []string `json:"ext,omitempty"`
	Value  string   `json:"value"`
}

// App routes a URL prefix to FastCGI backends.
type App struct {
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// Pool names the init-managed pool serving this app; init fills
	// Backends from it at boot.
	Pool       string   `json:"pool,omitempty"`
	Backends   []string `json:"backends"` // unix:/path, tcp:host:port or a bare /path
	CheckLocal bool     `json:"check_local,omitempty"`
	Env        []string `json:"env,omitempty"`
	// Mode is "responder" (default) or "authorizer" (the app decides, the
	// front end then serves the static file).
	Mode string `json:"mode,omitempty"`
	// Host, when set, is a regular expression the request's host must
	// match for this app to be used.
	Host string `json:"host,omitempty"`
	// FastCGI overrides the front end's defaults; zero fields inherit.
	FastCGI FastCGI `json:"fastcgi,omitzero"`
}

// FastCGI are the client-side settings of an app's backends.
type FastCGI struct {
	ConnectTimeoutMS  int `json:"connect_timeout_ms,omitempty"`  // default 2 s
	ResponseTimeoutMS int `json:"response_timeout_ms,omitempty"` // default 60 s (504)
	// DownTimeMS is how long a backend that refused a connection is left
	// out of the rotation; default 1 s.
	DownTimeMS int `json:"down_time_ms,omitempty"`
	// KeepConn reuses backend connections (FCGI_KEEP_CONN): "on", "off"
	// or "" for the default: reuse only with backends that say (in answer
	// to FCGI_GET_VALUES) they serve several connections at once, within
	// that number; "on" reuses always, which hangs apps that serve one
	// connection at a time (see httpfront's package doc).
	KeepConn string `json:"keep_conn,omitempty"`
	// XSendfile lists directories the app may send files from with an
	// X-Sendfile response header; empty disables X-Sendfile.
	XSendfile []string `json:"x_sendfile,omitempty"`
	// MaxHeaderBytes bounds the CGI header block of an app's response
	// (the lines before the blank line); default 64 KiB. A backend that
	// sends more gets its connection closed and the client a 502.
	MaxHeaderBytes int `json:"max_header_bytes,omitempty"`
}

// StatusPage exposes init's status report (StatusSocket) on the front end
// at Path, to clients whose address is inside one of Allow.
type StatusPage struct {
	Path   string   `json:"path"`
	Socket string   `json:"socket"`
	Allow  []string `json:"allow"` // CIDRs
}
