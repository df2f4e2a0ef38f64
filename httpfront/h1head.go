package httpfront

import (
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// The fast path parses request heads itself, but only the plain ones: a
// GET or HEAD over HTTP/1.1 with an origin-form target, CRLF line ends,
// token field names, one valid Host, and none of the fields that give a
// request a body or special handling. Anything else (including whatever
// net/http would refuse with 400) is handed to net/http, which then sees
// the same bytes and answers as it always did, except a head whose body
// framing two parsers could read differently (framingFault): that one
// gets 400 and the connection is closed.

// maxFastHeaders caps the field lines of a head the fast path parses.
const maxFastHeaders = 100

// headEnd returns the length of the head in b (through its empty line),
// scanning for line ends from from; 0 when the head is not complete. A
// head whose lines end in a bare LF also ends here (the parser then hands
// it off).
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		nl := i + j
		// The line that ends at nl is empty when it is "\n" or "\r\n"
		// right after another line end (or at the start, which is a
		// malformed head that is handed off).
		switch {
		case nl == 0, b[nl-1] == '\n':
			return nl + 1
		case b[nl-1] == '\r' && (nl == 1 || b[nl-2] == '\n'):
			return nl + 1
		}
		i = nl + 1
	}
	return 0
}

// fastHead is a parsed plain request head.
type fastHead struct {
	method, target, host string
	close                bool // Connection: close
	cond                 bool // a condition (If-*) or a Range: no prepared answer
}

// parseHead parses head (the bytes through the empty line, as one string)
// into h and the fields into hdr (cleared first), with vals as backing for
// the value slices. It reports false when the head is not one the fast
// path takes.
func parseHead(head string, h *fastHead, hdr http.Header, vals []string) ([]string, bool) {
	if len(hdr) > 0 { // clearing even an empty map costs
		clear(hdr)
	}
	line, rest, ok := strings.Cut(head, "\r\n")
	if !ok {
		return vals, false
	}
	switch {
	case strings.HasPrefix(line, "GET "):
		h.method = http.MethodGet
	case strings.HasPrefix(line, "HEAD "):
		h.method = http.MethodHead
	default:
		return vals, false
	}
	target, proto, ok := strings.Cut(line[len(h.method)+1:], " ")
	if !ok || proto != "HTTP/1.1" || !plainTarget(target) {
		return vals, false
	}
	h.target, h.host, h.close, h.cond = target, "", false, false
	hosts := 0
	vals = vals[:0]
	for n := 0; ; n++ {
		line, rest, ok = strings.Cut(rest, "\r\n")
		if !ok || n > maxFastHeaders {
			return vals, false
		}
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !tokenString(k) {
			return vals, false
		}
		if !fieldValue(v) { // before trimming: a bare CR or LF is no end of line
			return vals, false
		}
		v = strings.Trim(v, " \t")
		key := canonicalKey(k)
		switch key {
		case "Host":
			hosts++
			if hosts > 1 || !plainHost(v) {
				return vals, false
			}
			h.host = v
			continue
		case "Content-Length", "Transfer-Encoding", "Expect", "Upgrade", "Pragma", "Trailer", "Te",
			"Http2-Settings":
			return vals, false
		case "Connection":
			if hasToken(v, "close") {
				h.close = true
			}
		case "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Range":
			h.cond = true
		}
		vals = append(vals, v)
		if old, ok := hdr[key]; ok {
			hdr[key] = append(old, v)
		} else {
			i := len(vals) - 1
			hdr[key] = vals[i : i+1 : i+1]
		}
	}
	return vals, hosts == 1 && rest == ""
}

// plainTarget accepts an origin-form target of printable ASCII without
// '#' (which url.ParseRequestURI keeps in the path).
func plainTarget(t string) bool {
	if t == "" || t[0] != '/' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}

// plainHost accepts host names, IPv4 and bracketed IPv6 literals with an
// optional port: a subset of what net/http accepts.
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

// tokenChars marks the bytes of an RFC 9110 token.
var tokenChars = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c)
	}
	return t
}()

// tokenString reports whether s is an RFC 9110 token.
func tokenString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return s != ""
}

// fieldValue reports whether v holds no control bytes other than HTAB.
func fieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// canonicalKey returns k in canonical form, without allocating when it
// already is.
func canonicalKey(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && c >= 'a' && c <= 'z' || !upper && c >= 'A' && c <= 'Z' {
			return textproto.CanonicalMIMEHeaderKey(k)
		}
		upper = c == '-'
	}
	return k
}

// hasToken reports whether the comma-separated list v holds token
// (case-insensitively).
func hasToken(v, token string) bool {
	for part := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(textproto.TrimString(part), token) {
			return true
		}
	}
	return false
}

// setURL fills u from an origin-form target as url.ParseRequestURI would,
// without allocating for targets made of unreserved characters and '/'
// (with any query); others go through the parser.
func setURL(u *url.URL, target string) (*url.URL, error) {
	p, q, hasQ := strings.Cut(target, "?")
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
			return url.ParseRequestURI(target)
		}
	}
	if hasQ && (q == "" || strings.Contains(q, "?")) {
		return url.ParseRequestURI(target)
	}
	*u = url.URL{Path: p, RawQuery: q}
	return u, nil
}

// framingFault reports whether a complete head that the fast path does
// not take frames a body in a way that two HTTP parsers can read
// differently: the front end then answers 400 and closes (refuse) rather
// than hand the connection to net/http, which accepts all of these.
//   - Content-Length with Transfer-Encoding: net/http drops the length and
//     keeps the connection; RFC 9112 section 6.1 wants it closed and
//     allows the rejection.
//   - Content-Length twice: net/http takes equal values; nginx and
//     lighttpd refuse any duplicate (RFC 9110 section 8.6 allows either).
//   - Transfer-Encoding on GET or HEAD (a body without meaning, RFC 9110
//     section 9.3.1 names rejecting it) or in another version than
//     HTTP/1.1 (HTTP/1.0 has no chunked coding: net/http ignores the
//     field and reads the body as the next request; RFC 9112 section 6.1
//     says the framing is faulty).
//   - Obsolete line folding: net/http joins the lines; RFC 9112 section
//     5.2 allows 400 and a proxy in front may not join them the same way.
//
// Lines end at LF with an optional CR before it, as net/http reads them.
func framingFault(head []byte) bool {
	line, rest, _ := bytes.Cut(head, []byte("\n"))
	method, target, _ := bytes.Cut(bytes.TrimSuffix(line, []byte("\r")), []byte(" "))
	_, proto, _ := bytes.Cut(target, []byte(" "))
	var lengths, codings int
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return true
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			lengths++
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			codings++
		}
	}
	bodiless := string(method) == http.MethodGet || string(method) == http.MethodHead
	return lengths > 1 || codings > 0 && (lengths > 0 || bodiless || string(proto) != "HTTP/1.1")
}

// badFraming is the answer to a head framingFault refuses: net/http's own
// 400, for a request it would have taken.
const badFraming = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\n\r\n400 Bad Request"

// refuse answers 400 and closes the connection: the write side first,
// then, after what the client still sends is read for a moment (so that
// closing with unread bytes does not reset the connection before the
// client has the answer), the socket.
func (c *fastConn) refuse() {
	_ = c.nc.SetDeadline(time.Now().Add(refuseLinger))
	if _, err := io.WriteString(c.nc, badFraming); err == nil {
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_, _ = io.CopyN(io.Discard, c.nc, refuseDrain)
		}
	}
	c.nc.Close()
}

// How long and how much refuse reads after its answer.
const (
	refuseLinger = 500 * time.Millisecond
	refuseDrain  = 256 << 10
)
