package main

import (
	"context"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver"
)

func testApp(t *testing.T) (*app, *strings.Builder) {
	var logs strings.Builder
	return &app{cfg: fcgiserver.DefaultConfig(), log: log.New(&logs, "", 0)}, &logs
}

func TestRoutes(t *testing.T) {
	a, _ := testApp(t)
	tests := []struct {
		method, target, body, ctype string
		status                      int
		want                        string
	}{
		{"GET", "/", "", "", 200, "<title>fcgiapp"},
		{"GET", "/hello", "", "", 200, "hello\n"},
		{"GET", "/echo", "", "", 200, "<form method=\"post\">"},
		{"POST", "/echo", "name=Ada&message=%3Cb%3E", "application/x-www-form-urlencoded", 200, "<td>&lt;b&gt;</td>"},
		{"POST", "/echo", "abc", "application/octet-stream", 200, "received 3 bytes sha256=ba7816bf"},
		{"PUT", "/echo", "", "", 405, "method not allowed"},
		{"GET", "/big?n=20", "", "", 200, "0123456789abcdef0123"},
		{"GET", "/big?n=x", "", "", 400, "want ?n=BYTES"},
		{"GET", "/slow?ms=1", "", "", 200, "slow: done"},
		{"GET", "/nope", "", "", 404, "404 page not found"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
		if tt.ctype != "" {
			r.Header.Set("Content-Type", tt.ctype)
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tt.method, tt.target, w.Code, w.Body.String(), tt.status, tt.want)
		}
	}
}

func TestSlowHonoursCancel(t *testing.T) {
	a, logs := testApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/slow?ms=10000", nil).WithContext(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	a.ServeHTTP(httptest.NewRecorder(), r)
	if time.Since(start) > 5*time.Second || !strings.Contains(logs.String(), "cancelled, context done") {
		t.Errorf("slow took %v, log %q", time.Since(start), logs.String())
	}
}

func TestRouteUsesPathInfo(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"/prefix/hello", "/prefix/hello"}, // no CGI variables: the URL path
	}
	for _, tt := range tests {
		r := &http.Request{URL: &url.URL{Path: tt.url}}
		if got := route(r); got != tt.want {
			t.Errorf("route(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}
