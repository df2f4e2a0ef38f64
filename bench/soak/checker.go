package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// check is one checker request.
type check struct {
	start, end time.Time
	err        error // nil: the right status and every byte right
	wrong      bool  // wrong bytes or status (never excused)
}

// page is a known page the checker fetches.
type page struct {
	method, path string
	body         []byte // POST body
	exp          expect
}

func (r *run) pages(rng *rand.Rand) []page {
	post := randomBytes(rng, 64<<10)
	big := appPrefix + "/big?n=300000"
	return []page{
		{method: "GET", path: "/", exp: r.site.expectFile("GET", "/")},
		{method: "GET", path: pathSmall, exp: r.site.expectFile("GET", pathSmall)},
		{method: "GET", path: pathLarge, exp: r.site.expectFile("GET", pathLarge)},
		{method: "GET", path: appPrefix + "/hello", exp: expectApp(appPrefix + "/hello")},
		{method: "GET", path: big, exp: expectApp(big)},
		{method: "POST", path: appPrefix + "/echo", body: post, exp: expectEcho(post)},
	}
}

// newClient is the checker's HTTP client: keep-alive or a connection per
// request.
func (r *run) newClient(keepAlive bool) *http.Client {
	tr := &http.Transport{DisableKeepAlives: !keepAlive, DisableCompression: true, MaxIdleConnsPerHost: 1}
	return &http.Client{Transport: tr, Timeout: r.wait(5 * time.Second)}
}

// checker fetches the known pages in turn until the load stops, with
// pauses of pause between requests, and returns every result.
func (r *run) checker(keepAlive bool, rng *rand.Rand, pause time.Duration) []check {
	cl := r.newClient(keepAlive)
	defer cl.CloseIdleConnections()
	pages := r.pages(rng)
	var out []check
	for i := 0; time.Now().Before(r.end); i++ {
		out = append(out, r.fetch(cl, pages[i%len(pages)]))
		time.Sleep(pause)
	}
	return out
}

// fetch gets one page and checks it.
func (r *run) fetch(cl *http.Client, p page) (c check) {
	c.start = time.Now()
	defer func() { c.end = time.Now() }()
	req, err := http.NewRequest(p.method, "http://"+r.addr+p.path, bytes.NewReader(p.body))
	if err != nil {
		c.err = fmt.Errorf("%s %s: %w", p.method, p.path, err)
		return c
	}
	resp, err := cl.Do(req)
	if err != nil {
		c.err = fmt.Errorf("%s %s: %w", p.method, p.path, err)
		return c
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		c.err = fmt.Errorf("%s %s: reading the body: %w", p.method, p.path, err)
		return c
	}
	out, err := r.site.check(p.exp, resp, body)
	switch {
	case out == outWrong || out == outDesync:
		c.err, c.wrong = err, true
	case out != outOK || resp.StatusCode != http.StatusOK:
		c.err = fmt.Errorf("%s %s: %s", p.method, p.path, resp.Status)
	}
	return c
}

// verdict is what the checker's results say, given the flood windows.
type verdict struct {
	ok, failed, excused, wrong int
	calmFailures               []string // failures outside the floods (at most 8)
	quietGaps                  int      // calm stretches of 1 s or more without a success
	gaps                       int      // calm stretches of 1 s or more
}

// judge sorts results: a failure overlapping a flood window (or the grace
// after it) is excused; any other failure counts, and so does a calm
// stretch between floods with no success in it.
func judge(results []check, wins []window, from, to time.Time, grace time.Duration) verdict {
	var v verdict
	for _, c := range results {
		switch {
		case c.wrong:
			v.wrong++
			v.failed++
			v.calmFailures = appendMax(v.calmFailures, c.err.Error())
		case c.err == nil:
			v.ok++
		case overlaps(c, wins, grace):
			v.excused++
		default:
			v.failed++
			v.calmFailures = appendMax(v.calmFailures, fmt.Sprintf("%s at +%v", c.err, c.start.Sub(from).Round(time.Millisecond)))
		}
	}
	for _, g := range calmGaps(wins, from, to, grace) {
		if g.end.Sub(g.start) < time.Second {
			continue
		}
		v.gaps++
		if !succeededWithin(results, g) {
			v.quietGaps++
		}
	}
	return v
}

func appendMax(s []string, x string) []string {
	if len(s) < 8 {
		return append(s, x)
	}
	return s
}

func overlaps(c check, wins []window, grace time.Duration) bool {
	for _, w := range wins {
		if c.start.Before(w.end.Add(grace)) && c.end.After(w.start) {
			return true
		}
	}
	return false
}

// calmGaps are the stretches of [from, to] outside every window (and its
// grace).
func calmGaps(wins []window, from, to time.Time, grace time.Duration) []window {
	var gaps []window
	t := from
	for _, w := range wins {
		if w.start.After(t) {
			gaps = append(gaps, window{t, w.start})
		}
		if e := w.end.Add(grace); e.After(t) {
			t = e
		}
	}
	if to.After(t) {
		gaps = append(gaps, window{t, to})
	}
	return gaps
}

func succeededWithin(results []check, g window) bool {
	for _, c := range results {
		if c.err == nil && !c.start.Before(g.start) && !c.end.After(g.end) {
			return true
		}
	}
	return false
}
