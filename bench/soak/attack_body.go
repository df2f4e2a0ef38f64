package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// smuggledReq is the request hidden inside framing: an answer to it is a
// desync (see site.marker).
const smuggledReq = "GET /smuggled.txt HTTP/1.1\r\nHost: soak\r\n\r\n"

// chunked frames body as chunks of random sizes.
func chunked(rng *rand.Rand, body []byte) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(len(body), 1+rng.IntN(64<<10))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// upload posts a random body (up to 2 MiB; chunked half the time, which
// the front end spools) to the app's /echo, which answers with its
// length and digest; then asks for /app/hello on the same connection.
func (r *run) upload(rng *rand.Rand) {
	body := randomBytes(rng, rng.IntN(2<<20))
	var b bytes.Buffer
	b.WriteString("POST /app/echo HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\n")
	if rng.IntN(2) == 0 {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		b.Write(chunked(rng, body))
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
		b.Write(body)
	}
	b.WriteString(get(appPrefix + "/hello"))
	exps := []expect{expectEcho(body), expectApp(appPrefix + "/hello")}
	r.exchange(kUpload, rng, b.Bytes(), exps, nil)
}

// aborted promises a body and sends part of it: then closes (half the
// time with a reset), or half-closes and reads the answer, which must not
// be a success (the app would have taken a cut body for a whole one).
func (r *run) aborted(rng *rand.Rand) {
	promised := 1024 + rng.IntN(4<<20)
	body := randomBytes(rng, promised)
	sent := rng.IntN(promised)
	var b bytes.Buffer
	target := appPrefix + "/echo"
	if rng.IntN(4) == 0 {
		target = pathSmall
	}
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: soak\r\n", target)
	switch rng.IntN(4) {
	case 0: // chunked, cut inside a chunk
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		b.Write(chunked(rng, body)[:sent])
	case 1: // more than max_body_bytes promised
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", 65<<20)
		b.Write(body[:sent])
	default:
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", promised)
		b.Write(body[:sent])
	}
	if rng.IntN(2) == 0 {
		e := expect{method: "POST", target: target, noSuccess: true}
		r.exchange(kAborted, rng, b.Bytes(), []expect{e}, closeWrite)
		return
	}
	c, err := r.dial(kAborted, r.wait(5*time.Second))
	if err != nil {
		return
	}
	r.st.kinds[kAborted].requests.Add(1)
	c.Write(b.Bytes())
	time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
	if tc, ok := c.Conn.(*net.TCPConn); ok && rng.IntN(2) == 0 {
		tc.SetLinger(0) // close with a reset
	}
	c.Close()
	r.st.kinds[kAborted].closed.Add(1)
}

// closeWrite half-closes the connection: the front end sees the end of
// the body early.
func closeWrite(c *conn) {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// badChunk is one chunked body case: lenient ones may be accepted (then
// the app must see exactly data), strict ones must be refused.
type badChunk struct {
	name   string
	body   func(rng *rand.Rand, data []byte) []byte
	strict bool
}

var badChunks = []badChunk{
	{"bad size", func(_ *rand.Rand, d []byte) []byte { return fmt.Appendf(nil, "zz\r\n%s\r\n0\r\n\r\n", d) }, true},
	{"overflowing size", func(_ *rand.Rand, d []byte) []byte {
		return fmt.Appendf(nil, "1%016x\r\n%s\r\n0\r\n\r\n", len(d), d)
	}, true},
	{"negative size", func(_ *rand.Rand, d []byte) []byte { return fmt.Appendf(nil, "-%x\r\n%s\r\n0\r\n\r\n", len(d), d) }, true},
	{"hex prefix", func(_ *rand.Rand, d []byte) []byte { return fmt.Appendf(nil, "0x%x\r\n%s\r\n0\r\n\r\n", len(d), d) }, true},
	{"no CRLF after data", func(_ *rand.Rand, d []byte) []byte { return fmt.Appendf(nil, "%x\r\n%sXX0\r\n\r\n", len(d), d) }, true},
	{"size beyond the data", func(_ *rand.Rand, d []byte) []byte { return fmt.Appendf(nil, "%x\r\n%s\r\n0\r\n\r\n", len(d)+64, d) }, true},
	{"no last chunk", func(_ *rand.Rand, d []byte) []byte { return fmt.Appendf(nil, "%x\r\n%s\r\n", len(d), d) }, true},
	{"extensions galore", func(rng *rand.Rand, d []byte) []byte {
		ext := bytes.Repeat([]byte(`;ext="v";x=y`), 1+rng.IntN(2000))
		return fmt.Appendf(nil, "%x%s\r\n%s\r\n0%s\r\n\r\n", len(d), ext, d, ext)
	}, false},
	{"trailers", func(rng *rand.Rand, d []byte) []byte {
		return fmt.Appendf(nil, "%x\r\n%s\r\n0\r\nX-Trailer: %d\r\nX-Other: t\r\n\r\n", len(d), d, rng.IntN(100))
	}, false},
	{"one-byte chunks", func(_ *rand.Rand, d []byte) []byte {
		var b bytes.Buffer
		for _, c := range d {
			fmt.Fprintf(&b, "1\r\n%c\r\n", c)
		}
		b.WriteString("0\r\n\r\n")
		return b.Bytes()
	}, false},
	{"leading zeros", func(_ *rand.Rand, d []byte) []byte { return fmt.Appendf(nil, "0000%X\r\n%s\r\n0\r\n\r\n", len(d), d) }, false},
	{"bare LF", func(_ *rand.Rand, d []byte) []byte { return fmt.Appendf(nil, "%x\n%s\n0\n\n", len(d), d) }, false},
}

// badChunking posts a chunked body framed wrongly (or oddly) to the app;
// its data is a request for the smuggled page. A body the front end
// must refuse is followed by a half close (so a front end waiting for
// more of it sees the end), an odd but valid one by a plain GET.
func (r *run) badChunking(rng *rand.Rand) {
	bc := badChunks[rng.IntN(len(badChunks))]
	data := []byte(smuggledReq)
	var b bytes.Buffer
	b.WriteString("POST /app/echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n")
	b.Write(bc.body(rng, data))
	if bc.strict {
		e := expect{method: "POST", target: "/app/echo (" + bc.name + ")", noSuccess: true}
		r.exchange(kBadChunk, rng, b.Bytes(), []expect{e}, closeWrite)
		return
	}
	b.WriteString(get(pathSmall))
	exps := []expect{expectEcho(data), r.site.expectFile("GET", pathSmall)}
	r.exchange(kBadChunk, rng, b.Bytes(), exps, nil)
}
