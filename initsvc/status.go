package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/tuning"
)

// status serves what init knows: uptime, memory, the tuning decisions and
// every service with its pid, state, restarts, threads and stack limit.
// It listens on a unix socket only; the front end decides who may see it.
type status struct {
	sup   *supervisor
	pools map[string]*pool
	facts tuning.Facts
	boot  time.Time
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
	r := spec.Report{Hostname: host, UptimeSeconds: time.Since(st.boot).Seconds(), Facts: st.facts}
	total, _ := meminfo("/proc/meminfo", "MemTotal:")
	avail, _ := meminfo("/proc/meminfo", "MemAvailable:")
	r.MemTotalMiB, r.MemAvailMiB = total>>20, avail>>20
	for name, p := range st.pools {
		r.Pools = append(r.Pools, spec.PoolReport{Name: name, Settings: p.settings, Backends: p.backends})
	}
	st.sup.mu.Lock()
	svcs := append([]*service(nil), st.sup.svcs...)
	st.sup.mu.Unlock()
	for _, sv := range svcs {
		sv.mu.Lock()
		sr := spec.ServiceReport{Name: sv.name, PID: sv.pid, State: sv.state, Restarts: sv.restarts, LastExit: sv.lastExit}
		sv.mu.Unlock()
		if sr.PID > 0 {
			sr.Threads = procStatusInt(sr.PID, "Threads:")
			sr.RSSKiB = procStatusInt(sr.PID, "VmRSS:")
			sr.StackLimit = stackLimit(sr.PID)
		}
		sr.Output = sv.out.last()
		r.Services = append(r.Services, sr)
	}
	return r
}

func procStatusInt(pid int, key string) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
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
