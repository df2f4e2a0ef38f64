package httpfront

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAccessLogLineBounded: a request whose fields are huge (a URI of
// 60 KB, 20,000 tabs in Referer and User-Agent: an 80 KB line before)
// makes one line of at most a few KiB, each field cut and marked.
func TestAccessLogLineBounded(t *testing.T) {
	const bound = maxLogMethod + maxLogURI + maxLogProto + 2*maxLogHeader + 5*16 + 128
	tabs := strings.Repeat("\t", 20000)
	for _, c := range []struct {
		name   string
		method string
		uri    string
		header string
		marks  []string
	}{
		{"tab headers", "GET", "/", tabs, []string{`\x09...[+19872]`}},
		{"long URI", "GET", "/" + strings.Repeat("a", 60000), "x", []string{"...[+57953]"}},
		{"long method", strings.Repeat("M", 100), "/", "x", []string{"...[+68]"}},
		{"quotes", "GET", "/" + strings.Repeat(`"`, 5000), tabs, []string{`\"...[+3977]`, `\x09...[+19872]`}},
		{"exact", "GET", "/" + strings.Repeat("a", maxLogURI-5), "x", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := newAccessLog(&buf)
			r := &http.Request{Method: c.method, RequestURI: c.uri, Proto: "HTTP/1.1", RemoteAddr: "192.0.2.1:5000",
				Header: http.Header{"Referer": {c.header}, "User-Agent": {c.header}}}
			l.log(r, 200, 10, time.Now())
			l.close()
			line := buf.String()
			if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || len(line) > bound {
				t.Fatalf("%d bytes (bound %d), %d newlines", len(line), bound, strings.Count(line, "\n"))
			}
			for _, m := range c.marks {
				if !strings.Contains(line, m) {
					t.Errorf("lacks %q: %q", m, line[:min(len(line), 300)])
				}
			}
			if c.marks == nil && strings.Contains(line, "...[+") {
				t.Errorf("a field within the bound was cut: %q", line)
			}
		})
	}
}

func TestAppendQuoted(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 10, "abc"},
		{"a\"b\\c\n", 20, `a\"b\\c\x0a`},
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "abcdefghij...[+1]"},
		{"\t\t\t\t", 8, `\x09\x09...[+2]`},
	} {
		if got := string(appendQuoted(nil, c.in, c.max)); got != c.want {
			t.Errorf("appendQuoted(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}
