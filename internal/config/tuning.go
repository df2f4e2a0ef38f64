package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

func (c *Config) validateTuning(key string, a App) error {
	var errs []error
	if _, err := a.StackBytes(); err != nil {
		errs = append(errs, c.errf(key+".stack_size", "%v", err))
	}
	if a.MaxThreads < 0 || a.MaxThreads > 10000 {
		errs = append(errs, c.errf(key+".max_threads", "%d: use 1 to 10000 threads per process (0 or unset: auto)", a.MaxThreads))
	}
	if a.MinSpare < 0 || a.MaxSpare < 0 || (a.MaxSpare > 0 && a.MinSpare > a.MaxSpare) {
		errs = append(errs, c.errf(key+".min_spare", "min_spare %d and max_spare %d: want 0 <= min_spare <= max_spare", a.MinSpare, a.MaxSpare))
	}
	if a.MaxThreads > 0 && a.MaxSpare > a.MaxThreads {
		errs = append(errs, c.errf(key+".max_spare", "max_spare %d is more than max_threads %d", a.MaxSpare, a.MaxThreads))
	}
	if a.MaxRequests < 0 {
		errs = append(errs, c.errf(key+".max_requests", "%d: use a positive count (0 or unset: never recycle)", a.MaxRequests))
	}
	if a.RequestTimeout != "" {
		if d, err := time.ParseDuration(a.RequestTimeout); err != nil || d < time.Millisecond {
			errs = append(errs, c.errf(key+".request_timeout", "%q is not a duration like \"30s\"", a.RequestTimeout))
		}
	}
	if a.BaseMemory != "" {
		if n, err := ParseSize(a.BaseMemory); err != nil || n < 1<<20 {
			errs = append(errs, c.errf(key+".base_memory", "%q: want a size of at least 1M, like \"16M\"", a.BaseMemory))
		}
	}
	return errors.Join(errs...)
}

// StackBytes returns the configured thread stack size; 0 means auto.
func (a App) StackBytes() (uint64, error) {
	var n uint64
	switch v := a.StackSize.(type) {
	case nil:
		return 0, nil
	case string:
		if v == "auto" {
			return 0, nil
		}
		var err error
		if n, err = ParseSize(v); err != nil {
			return 0, err
		}
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("%d: a size cannot be negative", v)
		}
		n = uint64(v)
	default:
		return 0, fmt.Errorf("%v: use \"auto\" or a size like \"256k\"", v)
	}
	if n < 64<<10 || n > 1<<30 {
		return 0, fmt.Errorf("%d bytes: a thread stack must be between 64k and 1G", n)
	}
	return n, nil
}

// BaseMiB returns base_memory in MiB; 0 means the default.
func (a App) BaseMiB() int {
	n, _ := ParseSize(a.BaseMemory)
	return int(n >> 20)
}

// ParseSize parses "512", "256k", "1M", "2G", "1T" (also "KiB", "MiB",
// "GiB", "TiB"; powers of 1024), for the config and the command line alike.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	mult := uint64(1)
	lower := strings.ToLower(t)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}} {
		if strings.HasSuffix(lower, u.suffix) {
			mult, t = u.mult, strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size like \"256k\" or \"16M\"", s)
	}
	return n * mult, nil
}
