// Package httpfront is the appliance's HTTP front end (lighttpd's role): it
// serves the document root and URL aliases and routes app prefixes to
// FastCGI backends.
//
// Routing: the longest prefix among aliases and apps wins; everything else
// is the document root. An app mounted at "/" gets only what the document
// root does not have: existing files (and directories with an index) stay
// static, the rest goes to the app with SCRIPT_NAME "" and PATH_INFO the
// whole path. An app with check_local gets a request only when the file
// exists under the root (php style); SCRIPT_NAME is then that file.
//
// Static files are cached: metadata for a second (the image is read-only,
// a host may change), small files in memory, ETags from a content hash
// (every file of an image has the same mtime). Large files go out with
// sendfile.
//
// FastCGI connections are reused (FCGI_KEEP_CONN, one request at a time
// per connection) only where that is safe: by default (keep_conn "") a
// backend is first asked, on a connection of its own, how many
// connections it serves at once (FCGI_GET_VALUES); connections are then
// reused when that is more than one, with never more open, busy and idle,
// than it said. A one-connection-at-a-time app such as php-cgi without
// PHP_FCGI_CHILDREN (FCGI_MAX_CONNS 1), or one that does not answer, gets
// a new connection per request, as from lighttpd: an idle connection held
// by the front end would keep it waiting while the next request queues.
// keep_conn "on" reuses always (and hangs such apps), "off" never. Reuse
// gives about 1.4x the requests per second on loopback unix sockets
// (bench/front.sh, hello app). A stale idle connection is retried transparently for
// requests without a body; requests with a body always get a fresh
// connection.
//
// Plain HTTP/1.1 GET and HEAD requests with simple heads are parsed and
// answered by the front end's own fast path (h1*.go); a connection that
// sends anything else is handed, with what was read, to net/http, which
// keeps it (HTTPS, HTTP/2 and HTTP/1.0 are all net/http's). On TCP
// listeners the fast path starts in event loops (h1loop.go, one epoll set
// per GOMAXPROCS, as lighttpd serves): requests answered from memory
// (small files, error pages, redirects) are served there without a
// goroutine per connection; at the first other request (an app, a large
// file, a body) the connection moves to a goroutine of its own. Large
// files go out with sendfile from one descriptor per file, shared by all
// the requests sending it.
package httpfront

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// Options are settings that do not come from the spec.
type Options struct {
	// Logf receives error messages and app stderr; default the standard
	// logger (stderr).
	Logf func(format string, args ...any)
	// StatTTL is how long file metadata is trusted; default 1 s.
	StatTTL time.Duration
	// onOpen, when set (tests), sees every file opened under a root.
	onOpen func(*os.File)
	// certStatus, when set (Server with ACME), adds an HTTPS section to
	// the status page.
	certStatus func() []CertStatus
}

// Front is the front end's handler for one spec. Close it when replaced.
type Front struct {
	root    *staticDir
	aliases []*aliasRoute
	apps    []*appRoute
	status  *statusRoute
	realIP  *realIP
	static  staticConfig
	limits  limits
	budget  cacheBudget

	// use counts the requests the Server routes here (Server.acquire);
	// Close waits for them. Unlike a read lock, a count never makes a new
	// request wait behind a Close that is waiting (an event loop would
	// stall with it during a reload).
	use inflight
}

// inflight counts users and lets a closer wait until none is left.
type inflight struct {
	n       atomic.Int64
	closing atomic.Bool
	closed  sync.Once
}

// enter counts a user in; false means the front end is closing and the
// caller must not use it.
func (u *inflight) enter() bool {
	u.n.Add(1)
	if u.closing.Load() {
		u.leave()
		return false
	}
	return true
}

func (u *inflight) leave() { u.n.Add(-1) }

// drain stops new users and waits until the last one left (Close is rare:
// a poll is enough).
func (u *inflight) drain() {
	u.closing.Store(true)
	for u.n.Load() > 0 {
		time.Sleep(5 * time.Millisecond)
	}
}

type aliasRoute struct {
	prefix string
	host   *regexp.Regexp
	dir    *staticDir
}

// New returns the front end's handler for cfg with default options.
func New(cfg spec.Front) (*Front, error) { return NewWithOptions(cfg, Options{}) }

// NewWithOptions returns the front end's handler for cfg.
func NewWithOptions(cfg spec.Front, opt Options) (*Front, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("front end: no document root")
	}
	if opt.Logf == nil {
		opt.Logf = log.Printf
	}
	if opt.StatTTL <= 0 {
		opt.StatTTL = defaultStatTTL
	}
	f := &Front{limits: newLimits(cfg)}
	f.static = staticConfig{
		index: cfg.Index, listing: cfg.DirListing, rules: cfg.CacheControl,
		writeTimeout: ms(cfg.WriteTimeoutMS, 30*time.Second), logf: opt.Logf,
	}
	if len(f.static.index) == 0 {
		f.static.index = []string{"index.html"}
	}
	var err error
	if f.root, err = f.newDir("", cfg.Root, opt); err != nil {
		return nil, err
	}
	for _, a := range cfg.Aliases {
		ar := &aliasRoute{prefix: a.Prefix}
		if ar.host, err = hostRE(a.Host); err != nil {
			f.Close()
			return nil, fmt.Errorf("alias %s: %w", a.Prefix, err)
		}
		if ar.dir, err = f.newDir(a.Prefix, a.Dir, opt); err != nil {
			f.Close()
			return nil, fmt.Errorf("alias %s: %w", a.Prefix, err)
		}
		f.aliases = append(f.aliases, ar)
	}
	sort.SliceStable(f.aliases, func(i, j int) bool { return len(f.aliases[i].prefix) > len(f.aliases[j].prefix) })
	for _, a := range cfg.Apps {
		ar, err := newAppRoute(a, cfg, f, opt)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("app %s: %w", a.Name, err)
		}
		f.apps = append(f.apps, ar)
	}
	sort.SliceStable(f.apps, func(i, j int) bool { return len(f.apps[i].prefix) > len(f.apps[j].prefix) })
	if f.realIP, err = newRealIP(cfg.TrustedProxies); err != nil {
		f.Close()
		return nil, err
	}
	if cfg.Status.Path != "" {
		if f.status, err = newStatusRoute(cfg.Status); err != nil {
			f.Close()
			return nil, err
		}
		f.status.https = opt.certStatus
		f.status.backends = f.backendStatus
	}
	return f, nil
}

func (f *Front) newDir(prefix, dir string, opt Options) (*staticDir, error) {
	c, err := newDirCache(dir, opt.StatTTL, &f.budget)
	if err != nil {
		return nil, err
	}
	c.onOpen = opt.onOpen
	return &staticDir{prefix: prefix, cache: c, cfg: &f.static}, nil
}

func hostRE(s string) (*regexp.Regexp, error) {
	if s == "" {
		return nil, nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("host pattern %q: %w", s, err)
	}
	return re, nil
}

func ms(v int, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return time.Duration(v) * time.Millisecond
}

// Close releases the front end's directories and backend connections
// after the requests a Server routed to it have finished.
func (f *Front) Close() {
	f.use.drain()
	f.use.closed.Do(f.release)
}

func (f *Front) release() {
	if f.root != nil {
		f.root.cache.close()
	}
	for _, a := range f.aliases {
		if a.dir != nil {
			a.dir.cache.close()
		}
	}
	for _, a := range f.apps {
		a.pool.Close()
		a.sendfile.close()
	}
}

// ServeHTTP routes one request.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.serveRouted(w, r, f.route(r))
}

// serveRouted answers r, routed to rt.
func (f *Front) serveRouted(w http.ResponseWriter, r *http.Request, rt routed) {
	if f.realIP != nil {
		f.realIP.apply(r)
	}
	switch {
	case rt.status:
		f.status.serve(w, r, r.URL.Path)
	case rt.bad != 0:
		http.Error(w, fmt.Sprintf("%d %s", rt.bad, strings.ToLower(http.StatusText(rt.bad))), rt.bad)
	case rt.app != nil:
		rt.app.serve(w, r, rt.path)
	default:
		if !rt.resolved {
			rt.found, rt.resolved = rt.dir.resolve(rt.path), true
		}
		rt.dir.serve(w, r, rt.path, rt.found)
	}
}

// routed is where a request goes: the status page, an error for a bad
// path, an app, or a static directory (an alias or the root).
type routed struct {
	status bool
	bad    int // status code for a path that is refused
	path   string
	app    *appRoute
	dir    *staticDir

	found    found // what path is under dir, once resolved
	resolved bool
}

func (f *Front) route(r *http.Request) routed {
	// The status page is matched exactly, before path cleaning (which
	// hides dot paths such as the default /.status).
	if f.status != nil && r.URL.RawPath == "" && f.status.matches(r.URL.Path) {
		return routed{status: true}
	}
	p, st := cleanPath(r)
	if st != 0 {
		return routed{bad: st}
	}
	alias, app := f.match(p, r)
	switch {
	case alias != nil:
		return routed{path: p, dir: alias.dir}
	case app != nil:
		return routed{path: p, app: app}
	}
	return routed{path: p, dir: f.root}
}

// match finds the alias or app with the longest prefix matching p.
// r's host (requestHost) is looked at only for a route with a host pattern.
func (f *Front) match(p string, r *http.Request) (*aliasRoute, *appRoute) {
	host, hostKnown := "", false
	hostMatches := func(re *regexp.Regexp) bool {
		if re == nil {
			return true
		}
		if !hostKnown {
			host, hostKnown = requestHost(r), true
		}
		return re.MatchString(host)
	}
	var alias *aliasRoute
	for _, a := range f.aliases {
		if hasPathPrefix(p, a.prefix) && hostMatches(a.host) {
			alias = a
			break
		}
	}
	for _, a := range f.apps {
		if hasPathPrefix(p, a.prefix) && hostMatches(a.host) {
			if alias != nil && len(alias.prefix) >= len(a.prefix) {
				return alias, nil
			}
			return nil, a
		}
	}
	return alias, nil
}

// requestHost is the request's host without port, lower-cased.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

// fromMemory reports at the time now (unix nanoseconds) whether a request routed to rt is answered without
// blocking on anything but the file cache: an error page, a redirect, or
// a file (and each of its sidecars) held in memory. The fast path's event
// loops answer only such requests themselves.
func (rt *routed) fromMemory(now int64) bool {
	switch {
	case rt.status || rt.app != nil:
		return false
	case rt.bad != 0:
		return true
	}
	rt.found, rt.resolved = rt.dir.resolveAt(rt.path, now), true
	switch fd := rt.found; fd.kind {
	case kindMissing, kindRedirect:
		return true
	case kindFile:
		if fd.e.data == nil && fd.e.size > 0 {
			return false
		}
		for _, v := range fd.e.variants {
			if v != nil && v.data == nil && v.size > 0 {
				return false
			}
		}
		return true
	}
	return false
}
