package httpfront

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// cgiRequest is what the CGI variables are made of.
type cgiRequest struct {
	scriptName string
	pathInfo   string
	docRoot    string
	scriptFile string
	length     int64
	hasBody    bool
}

// cgiParams builds the CGI/1.1 variables of RFC 3875 for r, then the
// HTTP_* headers (without Proxy: httpoxy) and the app's own variables.
func cgiParams(r *http.Request, c cgiRequest, env []record.Pair) []record.Pair {
	p := make([]record.Pair, 0, 24+len(r.Header)+len(env))
	add := func(k, v string) { p = append(p, record.Pair{Name: k, Value: v}) }
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("SERVER_SOFTWARE", "httpfront")
	add("SERVER_PROTOCOL", r.Proto)
	add("REQUEST_METHOD", r.Method)
	add("REQUEST_URI", requestURI(r))
	add("QUERY_STRING", r.URL.RawQuery)
	add("SCRIPT_NAME", c.scriptName)
	add("PATH_INFO", c.pathInfo)
	if c.pathInfo != "" {
		add("PATH_TRANSLATED", c.docRoot+c.pathInfo)
	}
	add("SCRIPT_FILENAME", c.scriptFile)
	add("DOCUMENT_ROOT", c.docRoot)
	add("REDIRECT_STATUS", "200") // php-cgi's force_redirect check
	if c.hasBody || c.length > 0 {
		add("CONTENT_LENGTH", strconv.FormatInt(c.length, 10))
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		add("CONTENT_TYPE", ct)
	}
	add("SERVER_NAME", requestHost(r))
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		host, port := splitAddr(la.String())
		add("SERVER_ADDR", host)
		add("SERVER_PORT", port)
	}
	host, port := splitAddr(r.RemoteAddr)
	add("REMOTE_ADDR", host)
	add("REMOTE_PORT", port)
	if r.TLS != nil {
		add("HTTPS", "on")
		add("REQUEST_SCHEME", "https")
	} else {
		add("REQUEST_SCHEME", "http")
	}
	if r.Host != "" {
		add("HTTP_HOST", r.Host)
	}
	for k, vs := range r.Header {
		if name, ok := httpVar(k); ok {
			sep := ", "
			if name == "HTTP_COOKIE" {
				sep = "; "
			}
			add(name, strings.Join(vs, sep))
		}
	}
	return append(p, env...)
}

// httpVar maps a header name to its HTTP_ variable. Headers that CGI
// carries elsewhere, the Proxy header (httpoxy) and names with characters
// other than letters, digits and '-' (which could collide after mapping,
// "X_A" vs "X-A") are left out.
func httpVar(k string) (string, bool) {
	switch k {
	case "Content-Type", "Content-Length", "Proxy", "Host":
		return "", false
	}
	b := make([]byte, 0, 5+len(k))
	b = append(b, "HTTP_"...)
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		case c == '-':
			b = append(b, '_')
		default:
			return "", false
		}
	}
	return string(b), true
}

func requestURI(r *http.Request) string {
	if r.RequestURI != "" && r.RequestURI[0] == '/' {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

func splitAddr(a string) (string, string) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return a, ""
	}
	return host, port
}
