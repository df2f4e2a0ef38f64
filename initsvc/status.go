package initsvc

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/tuning"
)

// status serves what init knows: uptime, memory, the tuning decisions and
// every service with its pid, state, restarts, threads and stack limit.
// It listens on a unix socket only; the front end decides who may see it.
//
// A service's output is not shown while it runs: the front end's stdout
// is the access log, other clients' URLs and query strings, and an app's
// output is whatever it prints about its users. What the report shows is
// a crashed service's last stderr lines (stdout never), as they were
// before its last exit, with every query string cut: enough to see why it
// died, not a window onto live traffic. The console shows everything.
type status struct {
	sup   *supervisor
	pools map[string]*pool
	facts tuning.Facts
	boot  time.Time
	// update reports the system's version and updates (nil: none).
	update func() *spec.UpdateReport
}

// serve answers every connection on the unix socket at path with the
// report as JSON. Only the front end's group may connect.
func (st *status) serve(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chown(path, 0, spec.FrontUID); err != nil {
		return fmt.Errorf("setting the owner of %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = json.NewEncoder(c).Encode(st.report())
			c.Close()
		}
	}()
	return nil
}

func (st *status) report() spec.Report {
	host, _ := os.Hostname()
	r := spec.Report{Hostname: host, UptimeSeconds: time.Since(st.boot).Seconds(), Facts: spec.MachineFacts(st.facts)}
	total, _ := meminfo("/proc/meminfo", "MemTotal:")
	avail, _ := meminfo("/proc/meminfo", "MemAvailable:")
	r.MemTotalMiB, r.MemAvailMiB = total>>20, avail>>20
	r.MemInUseMiB = inUseMiB(total, avail)
	for name, p := range st.pools {
		r.Pools = append(r.Pools, spec.PoolReport{Name: name, Settings: poolSettings(p.settings), Backends: p.backends})
	}
	if st.update != nil {
		r.Update = st.update()
	}
	st.sup.mu.Lock()
	svcs := append([]*service(nil), st.sup.svcs...)
	st.sup.mu.Unlock()
	for _, sv := range svcs {
		sv.mu.Lock()
		sr := spec.ServiceReport{Name: sv.name, PID: sv.pid, State: sv.state, Restarts: sv.restarts, LastExit: sv.lastExit}
		sr.Output = append([]string(nil), sv.crash...)
		sv.mu.Unlock()
		if sr.PID > 0 {
			st := procStatusInts(sr.PID, "Threads:", "VmRSS:", "RssAnon:")
			sr.Threads, sr.RSSKiB, sr.AnonKiB = st[0], st[1], st[2]
			sr.StackLimit = stackLimit(sr.PID)
		}
		r.Services = append(r.Services, sr)
	}
	return r
}

// inUseMiB is the RAM in use, MemTotal - MemAvailable (bytes), rounded to
// MiB; 0 when MemAvailable is unknown or above MemTotal.
func inUseMiB(total, avail uint64) uint64 {
	if avail == 0 || avail > total {
		return 0
	}
	return (total - avail + 1<<19) >> 20
}

// procStatusInts reads /proc/PID/status once and returns the numbers of
// keys, in order (0 for one it lacks).
func procStatusInts(pid int, keys ...string) []int {
	out := make([]int, len(keys))
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		if i := slices.Index(keys, f[0]); i >= 0 {
			out[i], _ = strconv.Atoi(f[1])
		}
	}
	return out
}

// stackLimit returns the soft "Max stack size" of /proc/PID/limits.
func stackLimit(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "Max stack size"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

// cutQueries replaces what follows each '?' up to the next blank or quote
// with "…", so URLs in the lines keep their paths but lose their queries.
func cutQueries(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, cutQuery(l))
	}
	return out
}

func cutQuery(l string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(l, '?')
		if i < 0 {
			b.WriteString(l)
			return b.String()
		}
		b.WriteString(l[:i+1])
		l = l[i+1:]
		end := strings.IndexAny(l, " \t\"'<>")
		if end < 0 {
			end = len(l)
		}
		if end > 0 {
			b.WriteString("…")
		}
		l = l[end:]
	}
}

// poolSettings is a pool's tuning as the status report carries it.
func poolSettings(s tuning.Settings) spec.PoolSettings {
	return spec.PoolSettings{
		Procs: s.Procs, StackSize: s.StackSize, MaxThreads: s.MaxThreads,
		MinSpare: s.MinSpare, MaxSpare: s.MaxSpare, GOMAXPROCS: s.GOMAXPROCS,
		GOMEMLIMIT: s.GOMEMLIMIT, BudgetMiB: s.BudgetMiB, Warnings: s.Warnings,
		Summary: s.String(),
	}
}
