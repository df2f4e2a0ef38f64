package fcgiserver

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by ConfigFromEnv. See the package doc.
const (
	EnvMinSpare       = "FCGI_MIN_SPARE"
	EnvMaxSpare       = "FCGI_MAX_SPARE"
	EnvMaxThreads     = "FCGI_MAX_THREADS"
	EnvMaxRequests    = "FCGI_MAX_REQUESTS"
	EnvRequestTimeout = "FCGI_REQUEST_TIMEOUT"
	EnvShutdownGrace  = "FCGI_SHUTDOWN_GRACE"
	EnvStackSize      = "FCGI_STACK_SIZE"
	EnvPoolMember     = "FCGI_POOL_MEMBER"
	EnvListen         = "FCGI_LISTEN"
	EnvWebServerAddrs = "FCGI_WEB_SERVER_ADDRS"
)

// Defaults, taken from the seed deployment (flup's minSpare=1, maxSpare=5,
// maxThreads=50).
const (
	DefaultMinSpare      = 1
	DefaultMaxSpare      = 5
	DefaultMaxThreads    = 50
	DefaultShutdownGrace = 10 * time.Second
)

// Config holds the pool and process settings of a Server. Start from
// DefaultConfig: zero values are taken literally (MinSpare 0 starts no
// spare worker, MaxRequests 0 and RequestTimeout 0 mean no limit,
// ShutdownGrace 0 cancels in-flight requests at once), and MaxThreads must
// be at least 1.
type Config struct {
	MinSpare       int           // idle workers kept started
	MaxSpare       int           // idle workers kept at most
	MaxThreads     int           // concurrent requests at most
	MaxRequests    int           // requests before the process recycles; 0 = never
	RequestTimeout time.Duration // per request; 0 = none
	ShutdownGrace  time.Duration // time in-flight requests get on shutdown
	StackSize      int64         // informational: the stack size init chose
	PoolMember     int           // index in the pool; -1 when unknown
	Listen         string        // unix path or host:port if fd 0 is no listener
	WebServerAddrs []netip.Addr  // peers allowed on TCP; empty = any
}

// ConfigFromEnv reads a Config from the process environment.
func ConfigFromEnv() (Config, error) {
	return ParseEnv(os.LookupEnv)
}

// ParseEnv reads a Config through lookup (os.LookupEnv in production). Unset
// or empty variables keep their defaults (spares not given shrink to fit a
// smaller MaxThreads); malformed ones are errors. It does not call Validate.
func ParseEnv(lookup func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	var errs []error
	intVar := func(name string, dst *int) {
		if v, ok := lookup(name); ok && v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("reading %s=%q: want a non-negative integer", name, v))
				return
			}
			*dst = n
		}
	}
	durVar := func(name string, dst *time.Duration) {
		if v, ok := lookup(name); ok && v != "" {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("reading %s=%q: want a Go duration such as 30s", name, v))
				return
			}
			*dst = d
		}
	}
	intVar(EnvMinSpare, &cfg.MinSpare)
	intVar(EnvMaxSpare, &cfg.MaxSpare)
	intVar(EnvMaxThreads, &cfg.MaxThreads)
	intVar(EnvMaxRequests, &cfg.MaxRequests)
	intVar(EnvPoolMember, &cfg.PoolMember)
	durVar(EnvRequestTimeout, &cfg.RequestTimeout)
	durVar(EnvShutdownGrace, &cfg.ShutdownGrace)
	var stack int
	intVar(EnvStackSize, &stack)
	cfg.StackSize = int64(stack)
	// Spares not given follow a smaller MaxThreads down.
	if v, _ := lookup(EnvMaxSpare); v == "" {
		cfg.MaxSpare = min(cfg.MaxSpare, cfg.MaxThreads)
	}
	if v, _ := lookup(EnvMinSpare); v == "" {
		cfg.MinSpare = min(cfg.MinSpare, cfg.MaxSpare)
	}
	cfg.Listen, _ = lookup(EnvListen)
	if v, ok := lookup(EnvWebServerAddrs); ok {
		addrs, err := parseAddrs(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", EnvWebServerAddrs, err))
		}
		cfg.WebServerAddrs = addrs
	}
	return cfg, errors.Join(errs...)
}

// parseAddrs parses FCGI_WEB_SERVER_ADDRS: IP addresses separated by commas
// (the FastCGI specification) or spaces.
func parseAddrs(v string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("parsing address %q: %w", f, err)
		}
		addrs = append(addrs, a.Unmap())
	}
	return addrs, nil
}

// DefaultConfig returns the defaults: MinSpare 1, MaxSpare 5, MaxThreads
// 50, no request limit, no timeout, 10 s shutdown grace, pool member unknown.
func DefaultConfig() Config {
	return Config{
		MinSpare:      DefaultMinSpare,
		MaxSpare:      DefaultMaxSpare,
		MaxThreads:    DefaultMaxThreads,
		ShutdownGrace: DefaultShutdownGrace,
		PoolMember:    -1,
	}
}

// Validate checks the pool bounds.
func (c Config) Validate() error {
	switch {
	case c.MaxThreads < 1 || c.MaxThreads > 1<<20:
		return fmt.Errorf("checking pool: MaxThreads %d is out of range 1..1048576", c.MaxThreads)
	case c.MinSpare < 0 || c.MinSpare > c.MaxSpare:
		return fmt.Errorf("checking pool: MinSpare %d must be between 0 and MaxSpare %d", c.MinSpare, c.MaxSpare)
	case c.MaxSpare > c.MaxThreads:
		return fmt.Errorf("checking pool: MaxSpare %d exceeds MaxThreads %d", c.MaxSpare, c.MaxThreads)
	case c.MaxRequests < 0 || c.RequestTimeout < 0 || c.ShutdownGrace < 0:
		return errors.New("checking pool: MaxRequests, RequestTimeout and ShutdownGrace must not be negative")
	}
	return nil
}

// Runtime is what the Go runtime made of the settings it reads itself.
type Runtime struct {
	GOMAXPROCS  int    // effective runtime.GOMAXPROCS
	NumCPU      int    // CPUs usable by the process
	MemoryLimit int64  // effective GOMEMLIMIT in bytes (math.MaxInt64 = none)
	GOGC        string // the GOGC variable as passed, "" when unset
	GoVersion   string
}

// RuntimeInfo reports the effective GOMAXPROCS and GOMEMLIMIT.
func RuntimeInfo() Runtime {
	return Runtime{
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		NumCPU:      runtime.NumCPU(),
		MemoryLimit: debug.SetMemoryLimit(-1),
		GOGC:        os.Getenv("GOGC"),
		GoVersion:   runtime.Version(),
	}
}
