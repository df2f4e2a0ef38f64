package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// get is a well-formed GET of target.
func get(target string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: soak\r\n\r\n"
}

// slowHead trickles heads a few bytes at a time on up to 6 connections
// (slowloris): each finishes its head and checks the answer, or gives up
// when its time is over; the front end may close it first (header
// timeout).
func (r *run) slowHead(rng *rand.Rand) {
	var wg sync.WaitGroup
	for range 1 + rng.IntN(6) {
		crng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		wg.Go(func() { r.slowConn(crng) })
	}
	wg.Wait()
}

func (r *run) slowConn(rng *rand.Rand) {
	life := time.Duration(2+rng.IntN(12)) * time.Second
	if left := time.Until(r.end); left < life {
		life = max(left, time.Second)
	}
	c, err := r.dial(kSlowHead, life)
	if err != nil {
		return
	}
	defer c.Close()
	r.st.kinds[kSlowHead].requests.Add(1)
	head := []byte("GET /small.txt HTTP/1.1\r\nHost: soak\r\nUser-Agent: slowloris\r\n")
	for range rng.IntN(8) {
		head = fmt.Appendf(head, "X-Slow-%d: %s\r\n", rng.IntN(1000), strings.Repeat("s", rng.IntN(64)))
	}
	head = append(head, "\r\n"...)
	pause := time.Duration(20+rng.IntN(400)) * time.Millisecond
	giveUp := time.Now().Add(life)
	for sent := 0; sent < len(head); {
		if time.Now().Add(pause).After(giveUp) {
			r.st.kinds[kSlowHead].closed.Add(1) // gave up: the head never ends
			return
		}
		time.Sleep(pause)
		n := min(len(head)-sent, 1+rng.IntN(3))
		if _, err := c.Write(head[sent : sent+n]); err != nil {
			r.st.kinds[kSlowHead].closed.Add(1) // the front end closed it
			return
		}
		sent += n
	}
	resp, body, err := c.readAnswer("GET")
	if err != nil {
		r.st.kinds[kSlowHead].closed.Add(1)
		return
	}
	out, err := r.site.check(r.site.expectFile("GET", pathSmall), resp, body)
	r.st.record(kSlowHead, out, err, head)
}

// longHead sends one head near or over the header limit (a long field,
// many fields, a long run of tabs, a long path), then a plain GET on the
// same connection.
func (r *run) longHead(rng *rand.Rand) {
	var b bytes.Buffer
	target := pathSmall
	size := r.maxHeader - 64 - rng.IntN(512) // under the limit
	if rng.IntN(2) == 0 {
		size = r.maxHeader + 1 + rng.IntN(3*r.maxHeader) // over
	}
	switch rng.IntN(4) {
	case 0: // one long field
		b.WriteString("GET /small.txt HTTP/1.1\r\nHost: soak\r\nX-Long: ")
		pad(&b, 'L', size-4)
	case 1: // many short fields
		b.WriteString("GET /small.txt HTTP/1.1\r\nHost: soak\r\n")
		for i := 0; b.Len() < size-16; i++ {
			fmt.Fprintf(&b, "X-F%d: v\r\n", i)
		}
		b.WriteString("X-End: e")
	case 2: // a run of tabs (each escaped to 4 bytes in the access log)
		b.WriteString("GET /small.txt HTTP/1.1\r\nHost: soak\r\nX-Tabs: a")
		pad(&b, '\t', size-5)
		b.WriteString("b")
	default: // a long path of many components: missing
		b.WriteString("GET ")
		for b.Len() < size-40 {
			b.WriteString("/a")
		}
		target = strings.TrimPrefix(b.String(), "GET ") + pathSmall
		b.WriteString(pathSmall + " HTTP/1.1\r\nHost: soak")
	}
	b.WriteString("\r\n\r\n")
	b.WriteString(get(pathSmall))
	exps := []expect{r.site.expectFile("GET", target), r.site.expectFile("GET", pathSmall)}
	r.exchange(kLongHead, rng, b.Bytes(), exps, nil)
}

// pad appends c to b until b holds n bytes.
func pad(b *bytes.Buffer, c byte, n int) {
	if n > b.Len() {
		b.Write(bytes.Repeat([]byte{c}, n-b.Len()))
	}
}

// invalidHeads are malformed requests for /small.txt: each must be
// refused (or answered as the page, by a lenient reading), and must not
// change how the requests after it are framed.
var invalidHeads = []string{
	"GET /small.txt HTTP/1.1\r\nHost: soak\r\nNo colon here\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: soak\r\nX-Space : before colon\r\n\r\n",
	"GET /small.txt HTTP/9.9\r\nHost: soak\r\n\r\n",
	"G@T /small.txt HTTP/1.1\r\nHost: soak\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: soak\r\nX-Nul: a\x00b\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: soak\r\n folded: x\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\n\r\n",
	"GET /small.txt HTTP/1.1\nHost: soak\n\n",
	"GET  /small.txt  HTTP/1.1\r\nHost: soak\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: soak\r\nX-Ctl: \x01\x7f\r\n\r\n",
	"GET /sma\x00ll.txt HTTP/1.1\r\nHost: soak\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: soak\r\nContent-Length: -1\r\n\r\n",
	"GET /small.txt HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: gzip\r\n\r\n",
}

// pipeline writes up to 40 requests at once (some HEAD, missing, app,
// ranged), with one malformed request among them half the time, and
// checks every answer in order.
func (r *run) pipeline(rng *rand.Rand) {
	var b bytes.Buffer
	var exps []expect
	n := 2 + rng.IntN(39)
	bad := -1
	if rng.IntN(2) == 0 {
		bad = rng.IntN(n)
	}
	for i := range n {
		if i == bad {
			b.WriteString(invalidHeads[rng.IntN(len(invalidHeads))])
			e := r.site.expectFile("GET", pathSmall)
			e.invalid = true
			exps = append(exps, e)
			continue
		}
		req, e := r.plainRequest(rng)
		b.WriteString(req)
		exps = append(exps, e)
	}
	r.exchange(kPipeline, rng, b.Bytes(), exps, nil)
}

// plainRequest is a well-formed request of the pipeline mix.
func (r *run) plainRequest(rng *rand.Rand) (string, expect) {
	switch rng.IntN(7) {
	case 0:
		return get(pathSmall), r.site.expectFile("GET", pathSmall)
	case 1:
		return get("/"), r.site.expectFile("GET", "/")
	case 2:
		return "HEAD /1m.bin HTTP/1.1\r\nHost: soak\r\n\r\n", r.site.expectFile("HEAD", pathLarge)
	case 3:
		p := fmt.Sprintf("/missing/%d", rng.IntN(1<<20))
		return get(p), r.site.expectFile("GET", p)
	case 4:
		return get(appPrefix + "/hello"), expectApp(appPrefix + "/hello")
	case 5:
		return "GET /small.txt HTTP/1.1\r\nHost: soak\r\nRange: bytes=100-199\r\n\r\n", r.site.expectFile("GET", pathSmall)
	}
	return get(pathIndex), r.site.expectFile("GET", pathIndex)
}
