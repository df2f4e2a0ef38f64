package main

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
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

// Report is the status page's JSON.
type Report struct {
	Hostname      string          `json:"hostname"`
	UptimeSeconds float64         `json:"uptime_seconds"`
	MemTotalMiB   uint64          `json:"mem_total_mib"`
	MemAvailMiB   uint64          `json:"mem_available_mib"`
	Facts         tuning.Facts    `json:"facts"`
	Pools         []PoolReport    `json:"pools"`
	Services      []ServiceReport `json:"services"`
}

// PoolReport is one pool's decisions.
type PoolReport struct {
	Name     string          `json:"name"`
	Settings tuning.Settings `json:"settings"`
	Backends []string        `json:"backends"`
}

// ServiceReport is one supervised process.
type ServiceReport struct {
	Name       string   `json:"name"`
	PID        int      `json:"pid"`
	State      string   `json:"state"`
	Restarts   int      `json:"restarts"`
	LastExit   string   `json:"last_exit,omitempty"`
	Threads    int      `json:"threads"`
	RSSKiB     int      `json:"rss_kib"`
	StackLimit string   `json:"stack_limit,omitempty"`
	Output     []string `json:"last_output,omitempty"`
}

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
	mux := http.NewServeMux()
	mux.HandleFunc("/", st.handle)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return nil
}

func (st *status) report() Report {
	host, _ := os.Hostname()
	r := Report{Hostname: host, UptimeSeconds: time.Since(st.boot).Seconds(), Facts: st.facts}
	r.MemTotalMiB, r.MemAvailMiB = meminfoMiB("MemTotal:"), meminfoMiB("MemAvailable:")
	for name, p := range st.pools {
		r.Pools = append(r.Pools, PoolReport{Name: name, Settings: p.settings, Backends: p.backends})
	}
	st.sup.mu.Lock()
	svcs := append([]*service(nil), st.sup.svcs...)
	st.sup.mu.Unlock()
	for _, sv := range svcs {
		sv.mu.Lock()
		sr := ServiceReport{Name: sv.name, PID: sv.pid, State: sv.state, Restarts: sv.restarts, LastExit: sv.lastExit}
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

func (st *status) handle(w http.ResponseWriter, req *http.Request) {
	rep := st.report()
	if strings.HasSuffix(req.URL.Path, ".json") || strings.Contains(req.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = statusPage.Execute(w, rep)
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Hostname}} status</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}</style></head>
<body><h1>{{.Hostname}}</h1>
<p>up {{printf "%.0f" .UptimeSeconds}} s; memory {{.MemAvailMiB}} of {{.MemTotalMiB}} MiB available;
{{.Facts.OnlineCPUs}} CPUs, {{.Facts.PhysicalCores}} physical cores</p>
{{range .Pools}}<h2>pool {{.Name}}</h2><p>{{.Settings}}</p>{{range .Settings.Warnings}}<p>warning: {{.}}</p>{{end}}{{end}}
<h2>services</h2><table><tr><th>name</th><th>pid</th><th>state</th><th>restarts</th><th>threads</th><th>RSS KiB</th><th>stack limit</th><th>last exit</th></tr>
{{range .Services}}<tr><td>{{.Name}}</td><td>{{.PID}}</td><td>{{.State}}</td><td>{{.Restarts}}</td><td>{{.Threads}}</td><td>{{.RSSKiB}}</td><td>{{.StackLimit}}</td><td>{{.LastExit}}</td></tr>
{{end}}</table><p><a href="status.json">JSON</a></p></body></html>
`))

func meminfoMiB(key string) uint64 {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb >> 10
		}
	}
	return 0
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
