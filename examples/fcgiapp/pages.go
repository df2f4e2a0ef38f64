package main

import (
	"html/template"
	"math"
	"net/http"
	"net/http/fcgi"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mkimage/mkimage/fcgiserver"
)

var statusPage = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>fcgiapp — pid {{.Pid}}</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left;vertical-align:top}
th{background:#eee}table{border-collapse:collapse;margin-bottom:1em}</style></head>
<body><h1>fcgiapp</h1>
<p>Process <b>{{.Pid}}</b> (parent {{.PPid}}), pool member <b>{{.Member}}</b>, served by {{.Engine}}.
<a href="{{.Base}}/echo">Echo form</a> · <a href="{{.Base}}/hello">hello</a></p>
<h2>Settings</h2><table>{{range .Settings}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>
<h2>Pool and runtime</h2><table>{{range .Live}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>
<h2>Process environment</h2><table>{{range .Env}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>
<h2>CGI variables of this request</h2><table>{{range .Vars}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>
</body></html>
`))

var echoPage = template.Must(template.New("echo").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>fcgiapp — echo</title></head>
<body><h1>fcgiapp echo</h1>
{{if .}}<h2>You sent</h2><table>{{range .}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>{{end}}
<form method="post"><p><label>Name <input name="name"></label></p>
<p><label>Message <textarea name="message"></textarea></label></p>
<p><button type="submit">Send</button></p></form>
</body></html>
`))

type row struct{ Name, Value string }

func (a *app) status(w http.ResponseWriter, r *http.Request) {
	member := "unknown"
	if a.cfg.PoolMember >= 0 {
		member = strconv.Itoa(a.cfg.PoolMember)
	}
	data := struct {
		Pid, PPid            int
		Member, Engine, Base string
		Settings, Live, Vars []row
		Env                  []row
	}{
		Pid: os.Getpid(), PPid: os.Getppid(), Member: member, Engine: "fcgiserver",
		Base: fcgiserver.Param(r, "SCRIPT_NAME"), Settings: a.settings(), Live: a.live(), Vars: cgiVars(r), Env: environ(),
	}
	if a.srv == nil {
		data.Engine = "net/http/fcgi"
		data.Base = fcgi.ProcessEnv(r)["SCRIPT_NAME"]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, data); err != nil {
		a.log.Printf("rendering the status page: %v", err)
	}
}

func (a *app) settings() []row {
	c := a.cfg
	rt := fcgiserver.RuntimeInfo()
	limit := "none"
	if rt.MemoryLimit != math.MaxInt64 {
		limit = strconv.FormatInt(rt.MemoryLimit, 10) + " bytes"
	}
	return []row{
		{"MinSpare (FCGI_MIN_SPARE)", strconv.Itoa(c.MinSpare)},
		{"MaxSpare (FCGI_MAX_SPARE)", strconv.Itoa(c.MaxSpare)},
		{"MaxThreads (FCGI_MAX_THREADS)", strconv.Itoa(c.MaxThreads)},
		{"MaxRequests (FCGI_MAX_REQUESTS)", strconv.Itoa(c.MaxRequests)},
		{"RequestTimeout (FCGI_REQUEST_TIMEOUT)", c.RequestTimeout.String()},
		{"ShutdownGrace (FCGI_SHUTDOWN_GRACE)", c.ShutdownGrace.String()},
		{"StackSize (FCGI_STACK_SIZE)", strconv.FormatInt(c.StackSize, 10) + " bytes (informational: goroutine stacks grow)"},
		{"Listen (FCGI_LISTEN)", c.Listen},
		{"GOMAXPROCS", strconv.Itoa(rt.GOMAXPROCS) + " of " + strconv.Itoa(rt.NumCPU) + " CPUs"},
		{"GOMEMLIMIT", limit},
		{"GOGC", rt.GOGC},
		{"Go", rt.GoVersion},
	}
}

func (a *app) live() []row {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rows := []row{
		{"Goroutines", strconv.Itoa(runtime.NumGoroutine())},
		{"Heap in use", strconv.FormatUint(ms.HeapInuse, 10) + " bytes"},
		{"Stacks in use", strconv.FormatUint(ms.StackInuse, 10) + " bytes"},
		{"Memory from the OS", strconv.FormatUint(ms.Sys, 10) + " bytes"},
	}
	if a.srv != nil {
		st := a.srv.Stats()
		rows = append(rows,
			row{"Busy / idle workers", strconv.Itoa(st.Busy) + " / " + strconv.Itoa(st.Idle)},
			row{"Worker goroutines", strconv.Itoa(st.Workers)},
			row{"Requests served", strconv.FormatInt(st.Served, 10)},
			row{"Refused (overloaded)", strconv.FormatInt(st.Overloaded, 10)},
			row{"Cancelled", strconv.FormatInt(st.Cancelled, 10)},
			row{"Open connections", strconv.FormatInt(st.Conns, 10)})
	}
	return append(rows, row{"Now", time.Now().UTC().Format(time.RFC3339)})
}

// cgiVars lists the request's CGI variables in the order they came.
func cgiVars(r *http.Request) []row {
	var rows []row
	if ps := fcgiserver.Params(r); ps != nil {
		for _, p := range ps {
			rows = append(rows, row{p.Name, p.Value})
		}
		return rows
	}
	for k, v := range fcgi.ProcessEnv(r) {
		rows = append(rows, row{k, v})
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			rows = append(rows, row{"header " + k, v})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

func renderEcho(w http.ResponseWriter, form url.Values) {
	var rows []row
	for k, vs := range form {
		for _, v := range vs {
			rows = append(rows, row{k, v})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	echoPage.Execute(w, rows)
}

// environ lists the process environment, sorted: what the init service (or
// lighttpd's bin-environment and bin-copy-environment) gave the app.
func environ() []row {
	var rows []row
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		rows = append(rows, row{k, v})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}
