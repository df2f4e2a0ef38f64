package httpfront

import (
	"bufio"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzFastHead checks that every head the fast path takes is one net/http
// reads the same way: method, target, URL, Host, fields and Connection.
func FuzzFastHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD /a/b.txt?x=1&y=%20 HTTP/1.1\r\nHost: a.b:80\r\nuser-agent: x\r\nAccept: */*\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"GET /%41b?q? HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: keep-alive, Close\r\n\r\n",
		"GET /a;b,c!$'()*+=:@ HTTP/1.1\r\nHost: h\r\nIf-None-Match:  \"x\" \t\r\n\r\n",
		"GET //x/./../y HTTP/1.1\r\nHost: h\r\nCookie: a=b; c=d\r\nCookie: e=f\r\n\r\n",
		"GET /? HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head string) {
		n := headEnd([]byte(head), 0)
		if n == 0 {
			return
		}
		head = head[:n]
		var h fastHead
		hdr := http.Header{}
		if _, ok := parseHead(head, &h, hdr, nil); !ok {
			return
		}
		var u url.URL
		got, err := setURL(&u, h.target)
		if err != nil {
			return // handed off: net/http answers (400) on its own
		}
		r, rerr := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if rerr != nil {
			t.Fatalf("fast path takes %q, net/http refuses it: %v", head, rerr)
		}
		if r.Method != h.method || r.RequestURI != h.target || r.Host != h.host {
			t.Fatalf("%q: fast %s %s %s, net/http %s %s %s", head, h.method, h.target, h.host, r.Method, r.RequestURI, r.Host)
		}
		if *got != *r.URL {
			t.Fatalf("%q: fast URL %#v, net/http %#v", head, *got, *r.URL)
		}
		if !reflect.DeepEqual(hdr, r.Header) {
			t.Fatalf("%q: fast fields %v, net/http %v", head, hdr, r.Header)
		}
		if h.close != r.Close {
			t.Fatalf("%q: fast close %v, net/http %v", head, h.close, r.Close)
		}
		checkNoBodyFraming(t, head, n)
	})
}

// checkNoBodyFraming checks the properties that rule out request
// smuggling on the fast path for a head it takes (the first n bytes of
// in): net/http sees no body (no Transfer-Encoding, no Content-Length but
// 0), reads the same head through the same end (the next request starts
// where the fast path's does, however the head was cut into reads), and
// the head is not one framingFault refuses.
func checkNoBodyFraming(t *testing.T, head string, n int) {
	const next = "GET /next HTTP/1.1\r\nHost: n\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(head + next))
	r, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("%q: net/http refuses it: %v", head, err)
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) != 0 || r.Header["Content-Length"] != nil || r.Header["Transfer-Encoding"] != nil {
		t.Fatalf("%q: the fast path takes a head with a body: length %d, codings %v", head, r.ContentLength, r.TransferEncoding)
	}
	if body, err := io.ReadAll(r.Body); err != nil || len(body) != 0 {
		t.Fatalf("%q: net/http reads a body %q (%v)", head, body, err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != next {
		t.Fatalf("%q: net/http leaves %q after the head, want the next request", head, rest)
	}
	for cut := 1; cut < n; cut += 1 + cut/3 {
		if headEnd([]byte(head[:cut]), 0) == 0 && headEnd([]byte(head), cut) != n {
			t.Fatalf("%q: scanning on from %d ends at %d, want %d", head, cut, headEnd([]byte(head), cut), n)
		}
	}
	if framingFault([]byte(head)) {
		t.Fatalf("%q: taken by the fast path and refused as badly framed", head)
	}
}

// FuzzFramingFault checks framingFault against net/http's own reading of
// every head it accepts: refused exactly when net/http (textproto) sees
// Content-Length more than once, Content-Length with Transfer-Encoding, or
// Transfer-Encoding on GET, HEAD or another version than HTTP/1.1, or a
// line is folded.
func FuzzFramingFault(f *testing.F) {
	for _, s := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n := headEnd([]byte(in), 0)
		if n == 0 {
			return
		}
		head := in[:n]
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			return // net/http refuses it on its own
		}
		_, rest, _ := strings.Cut(head, "\n")
		fields, err := textproto.NewReader(bufio.NewReader(strings.NewReader(rest))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("%q: net/http reads it, textproto does not: %v", head, err)
		}
		cl, te := len(fields["Content-Length"]), len(fields["Transfer-Encoding"])
		bodiless := r.Method == http.MethodGet || r.Method == http.MethodHead
		want := cl > 1 || te > 0 && (cl > 0 || bodiless || r.Proto != "HTTP/1.1") || folded(head)
		if got := framingFault([]byte(head)); got != want {
			t.Fatalf("%q: framingFault %v, want %v (%d lengths, %d codings, %s %s)", head, got, want, cl, te, r.Method, r.Proto)
		}
	})
}

// folded reports whether a field line of head starts with a space or tab.
func folded(head string) bool {
	lines := strings.Split(head, "\n")
	for _, l := range lines[1:] {
		if l == "" || l == "\r" {
			return false
		}
		if l[0] == ' ' || l[0] == '\t' {
			return true
		}
	}
	return false
}

func TestFramingFault(t *testing.T) {
	const h = "Host: a\r\n"
	for _, tc := range []struct {
		head string
		want bool
	}{
		{"GET / HTTP/1.1\r\n" + h + "\r\n", false},
		{"POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\n", false},
		{"POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n", false},
		{"GET / HTTP/1.1\r\n" + h + "Content-Length: 0\r\n\r\n", false},
		{"POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"POST / HTTP/1.1\r\n" + h + "transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", true},
		{"POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\n", true},
		{"POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", true},
		{"GET / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n", true},
		{"HEAD / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n", true},
		{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"POST / HTTP/1.1\n" + "Host: a\nContent-Length: 1\nTransfer-Encoding: chunked\n\n", true},
		{"GET / HTTP/1.1\r\n" + h + "X: a\r\n folded\r\n\r\n", true},
		{"GET / HTTP/1.1\r\n" + h + "X: a\r\n\tfolded\r\n\r\n", true},
		{"POST / HTTP/1.1\r\n" + h + "\r\n Transfer-Encoding: chunked\r\n", false}, // after the head
		{"\r\n", false},
	} {
		if got := framingFault([]byte(tc.head)); got != tc.want {
			t.Errorf("framingFault(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
}

func TestHeadEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 27},
		{"GET / HTTP/1.1\r\nHost: a\r\n", 0},
		{"GET / HTTP/1.1\nHost: a\n\n", 24},
		{"GET / HTTP/1.1\r\nHost: a\r\n\n", 26},
		{"\r\n", 2},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", 0},
	} {
		if got := headEnd([]byte(tc.in), 0); got != tc.want {
			t.Errorf("headEnd(%q) = %d, want %d", tc.in, got, tc.want)
		}
		// Scanning in pieces finds the same end.
		if tc.want > 0 {
			for cut := 1; cut < tc.want; cut++ {
				if headEnd([]byte(tc.in[:cut]), 0) != 0 && cut < tc.want {
					continue
				}
				if got := headEnd([]byte(tc.in), cut); got != tc.want && headEnd([]byte(tc.in[:cut]), 0) == 0 {
					t.Errorf("headEnd(%q) from %d = %d, want %d", tc.in, cut, got, tc.want)
				}
			}
		}
	}
}
