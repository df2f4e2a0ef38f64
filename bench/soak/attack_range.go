package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
)

// rangeHeader returns one abusive Range field value for a file of size
// bytes: many, overlapping, huge, descending, suffix or malformed ranges.
func rangeHeader(rng *rand.Rand, size int) string {
	var parts []string
	switch rng.IntN(7) {
	case 0: // many small ranges
		for range 2 + rng.IntN(300) {
			a := rng.IntN(size)
			parts = append(parts, fmt.Sprintf("%d-%d", a, a+rng.IntN(16)))
		}
	case 1: // overlapping
		for i := range 2 + rng.IntN(40) {
			parts = append(parts, fmt.Sprintf("%d-%d", i*8, i*8+rng.IntN(size)))
		}
	case 2: // huge numbers
		huge := []string{"0-99999999999999999999", "99999999999999999999-", "-99999999999999999999",
			fmt.Sprintf("%d-%d", size-1, 1<<62), "0-", fmt.Sprintf("%d-", size)}
		parts = append(parts, huge[rng.IntN(len(huge))])
	case 3: // descending
		for i := 2 + rng.IntN(20); i > 0; i-- {
			parts = append(parts, fmt.Sprintf("%d-%d", i*(size/32), i*(size/32)+rng.IntN(64)))
		}
	case 4: // suffixes, zero lengths
		suf := []string{"-0", "0-0", "-1", fmt.Sprintf("-%d", size), fmt.Sprintf("%d-%d", size-1, size-1)}
		for range 1 + rng.IntN(4) {
			parts = append(parts, suf[rng.IntN(len(suf))])
		}
	case 5: // malformed
		bad := []string{"a-b", "5-1", "", " - ", "1-2-3", "--5", "0x10-0x20", "+1-2"}
		for range 1 + rng.IntN(4) {
			parts = append(parts, bad[rng.IntN(len(bad))])
		}
		if rng.IntN(3) == 0 {
			return "items=0-5"
		}
	default: // the whole file in pieces
		for a := 0; a < size; a += size / 4 {
			parts = append(parts, fmt.Sprintf("%d-%d", a, a+size/4-1))
		}
	}
	return "bytes=" + strings.Join(parts, ",")
}

// rangeAbuse pipelines 1 to 5 ranged GET and HEAD requests for the small
// and the large file (sometimes two Range fields, sometimes If-Range) and
// checks every byte of every part.
func (r *run) rangeAbuse(rng *rand.Rand) {
	var b bytes.Buffer
	var exps []expect
	for range 1 + rng.IntN(5) {
		path, method := pathSmall, "GET"
		if rng.IntN(2) == 0 {
			path = pathLarge
		}
		if rng.IntN(5) == 0 {
			method = "HEAD"
		}
		size := len(r.site.files[path])
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: soak\r\nRange: %s\r\n", method, path, rangeHeader(rng, size))
		switch rng.IntN(6) {
		case 0:
			fmt.Fprintf(&b, "Range: %s\r\n", rangeHeader(rng, size))
		case 1:
			b.WriteString("If-Range: \"not-the-etag\"\r\n")
		case 2:
			b.WriteString("If-Range: Sat, 01 Jan 2000 00:00:00 GMT\r\n")
		}
		b.WriteString("\r\n")
		exps = append(exps, r.site.expectFile(method, path))
	}
	r.exchange(kRange, rng, b.Bytes(), exps, nil)
}

// smuggleShapes are requests whose framing two readers could disagree on,
// each with the smuggled request (S) where one reading puts a request:
// every one must be refused or read one way, and the connection closed
// where the rules say so; the smuggled page must never come back.
var smuggleShapes = []func() string{
	func() string { // CL and TE: TE wins, then the connection must close
		body := "0\r\n\r\n" + smuggledReq
		return fmt.Sprintf("POST /app/echo HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(body), body)
	},
	func() string { // TE then CL, CL short
		return "POST /app/echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" +
			"0\r\n\r\n" + smuggledReq
	},
	func() string { // two different Content-Length: 400
		return fmt.Sprintf("POST /app/echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n%s", len(smuggledReq), smuggledReq)
	},
	func() string {
		return fmt.Sprintf("POST /app/echo HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\nContent-Length: 0\r\n\r\n%s", len(smuggledReq), smuggledReq)
	},
	func() string { // GET with a body: the body is not a request
		return fmt.Sprintf("GET /small.txt HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n%s", len(smuggledReq), smuggledReq)
	},
	func() string { // GET with a chunked body
		return fmt.Sprintf("GET /small.txt HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(smuggledReq), smuggledReq)
	},
	func() string { // HEAD with a body
		return fmt.Sprintf("HEAD /small.txt HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n%s", len(smuggledReq), smuggledReq)
	},
	func() string { // a static POST with a body
		return fmt.Sprintf("POST /small.txt HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n%s", len(smuggledReq), smuggledReq)
	},
	func() string { // Connection: close, then more bytes
		return "GET /small.txt HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n" + smuggledReq
	},
	func() string { return obfuscatedTE("Transfer-Encoding: xchunked") },
	func() string { return obfuscatedTE("Transfer-Encoding : chunked") },
	func() string { return obfuscatedTE("Transfer-Encoding: chunked, identity") },
	func() string { return obfuscatedTE("Transfer-Encoding:\tchunked\t") },
	func() string { return obfuscatedTE("Transfer-Encoding: CHUNKED") },
	func() string { return obfuscatedTE("Transfer-Encoding: identity\r\nTransfer-Encoding: chunked") },
	func() string { return obfuscatedTE(" Transfer-Encoding: chunked") },
	func() string { return oddCL(fmt.Sprintf("+%d", len(smuggledReq))) },
	func() string { return oddCL(fmt.Sprintf("%d, %d", len(smuggledReq), len(smuggledReq))) },
	func() string { return oddCL(fmt.Sprintf("0x%x", len(smuggledReq))) },
	func() string { return oddCL(fmt.Sprintf("%d ", len(smuggledReq))) },
	func() string { return oddCL(fmt.Sprintf("0%d", len(smuggledReq))) },
	func() string { return oddCL("99999999999999999999999") },
}

// obfuscatedTE is a POST with Content-Length and a transfer coding
// written oddly: read as chunked, the smuggled request follows the body.
func obfuscatedTE(te string) string {
	body := "0\r\n\r\n" + smuggledReq
	return fmt.Sprintf("POST /app/echo HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n%s\r\n\r\n%s", len(body), te, body)
}

// oddCL is a POST whose Content-Length (cl) means the smuggled request's
// length or nothing: a reader taking it for 0 reads a second request.
func oddCL(cl string) string {
	return "POST /app/echo HTTP/1.1\r\nHost: soak\r\nContent-Length: " + cl + "\r\n\r\n" + smuggledReq
}

// smuggle sends one smuggling shape and a plain GET after it.
func (r *run) smuggle(rng *rand.Rand) {
	req := smuggleShapes[rng.IntN(len(smuggleShapes))]() + get(pathSmall)
	first := expect{method: "POST", target: "(smuggling shape)", invalid: true}
	if strings.HasPrefix(req, "GET") {
		first = r.site.expectFile("GET", pathSmall)
		first.invalid = true
	}
	if strings.HasPrefix(req, "HEAD") {
		first = r.site.expectFile("HEAD", pathSmall)
		first.invalid = true
	}
	follow := r.site.expectFile("GET", pathSmall)
	follow.invalid = true
	r.exchange(kSmuggle, rng, []byte(req), []expect{first, follow}, nil)
}
