package httpfront

import (
	"bufio"
	"net/http"
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
	})
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
