package fcgiserver

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// newHTTPRequest builds the handler's request from the CGI variables the
// way net/http's own server would: URL from REQUEST_URI (path and query),
// Host from HTTP_HOST (else SERVER_NAME), RemoteAddr "REMOTE_ADDR:PORT",
// headers from HTTP_* plus CONTENT_TYPE, TLS set when HTTPS is on.
func (s *Server) newHTTPRequest(req *request, params string) (*http.Request, error) {
	pairs, nHeaders, err := splitParams(params)
	if err != nil {
		return nil, err
	}
	req.params = pairs
	get := func(name string) string { return lookup(pairs, name) }
	hr := &http.Request{Method: get("REQUEST_METHOD"), Proto: get("SERVER_PROTOCOL"), Close: !req.keepConn}
	if hr.Method == "" {
		return nil, fmt.Errorf("reading CGI variables: no REQUEST_METHOD")
	}
	var ok bool
	if hr.ProtoMajor, hr.ProtoMinor, ok = http.ParseHTTPVersion(hr.Proto); !ok {
		hr.Proto, hr.ProtoMajor, hr.ProtoMinor = "HTTP/1.0", 1, 0
	}
	if hr.URL, hr.RequestURI, err = requestURL(get); err != nil {
		return nil, err
	}
	if hr.Host = get("HTTP_HOST"); hr.Host == "" {
		hr.Host = get("SERVER_NAME")
	}
	if addr := get("REMOTE_ADDR"); addr != "" {
		hr.RemoteAddr = net.JoinHostPort(addr, get("REMOTE_PORT"))
	}
	if v := get("HTTPS"); v == "on" || v == "ON" || v == "1" {
		hr.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	hr.Header = makeHeader(pairs, nHeaders)
	if hr.ContentLength, err = contentLength(get("CONTENT_LENGTH"), hr.Method); err != nil {
		return nil, err
	}
	req.body.init(&s.bodyBufs, hr.ContentLength)
	hr.Body = &req.body
	if hr.ContentLength == 0 && get("CONTENT_LENGTH") != "" {
		hr.Body = http.NoBody
	}
	return hr.WithContext(&req.rctx), nil
}

// splitParams decodes the PARAMS stream into pairs that share its memory
// and counts the variables that become headers.
func splitParams(params string) ([]record.Pair, int, error) {
	pairs := make([]record.Pair, 0, 32)
	headers := 0
	for rest := params; len(rest) > 0; {
		name, value, r, err := record.NextPairString(rest)
		if err != nil {
			return nil, 0, fmt.Errorf("decoding PARAMS: %w", err)
		}
		if strings.HasPrefix(name, "HTTP_") || name == "CONTENT_TYPE" {
			headers++
		}
		pairs = append(pairs, record.Pair{Name: name, Value: value})
		rest = r
	}
	return pairs, headers, nil
}

func lookup(pairs []record.Pair, name string) string {
	for i := range pairs {
		if pairs[i].Name == name {
			return pairs[i].Value
		}
	}
	return ""
}

func requestURL(get func(string) string) (*url.URL, string, error) {
	uri := get("REQUEST_URI")
	if uri == "" {
		uri = get("SCRIPT_NAME") + get("PATH_INFO")
		if q := get("QUERY_STRING"); q != "" {
			uri += "?" + q
		}
	}
	if uri == "" {
		uri = "/"
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, "", fmt.Errorf("parsing REQUEST_URI %q: %w", uri, err)
	}
	return u, uri, nil
}

func contentLength(v, method string) (int64, error) {
	if v == "" {
		switch method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			return -1, nil // a streamed body of unknown length may follow
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("parsing CONTENT_LENGTH %q: not a length", v)
	}
	return n, nil
}

// makeHeader turns HTTP_* variables (and CONTENT_TYPE) into a header, with
// one backing array for all single values, as net/textproto does.
func makeHeader(pairs []record.Pair, n int) http.Header {
	h := make(http.Header, n)
	vals := make([]string, n)
	for _, p := range pairs {
		var key string
		switch {
		case p.Name == "CONTENT_TYPE":
			key = "Content-Type"
		case strings.HasPrefix(p.Name, "HTTP_") && p.Name != "HTTP_HOST":
			key = headerKey(p.Name[len("HTTP_"):])
		default:
			continue
		}
		if old, ok := h[key]; ok {
			h[key] = append(old, p.Value)
			continue
		}
		vals[0] = p.Value
		h[key] = vals[:1:1]
		vals = vals[1:]
	}
	return h
}

// headerKey turns USER_AGENT into User-Agent without allocating for the
// common headers.
func headerKey(cgi string) string {
	var buf [64]byte
	if len(cgi) > len(buf) {
		return http.CanonicalHeaderKey(strings.ReplaceAll(cgi, "_", "-"))
	}
	b := buf[:len(cgi)]
	upper := true
	for i := 0; i < len(cgi); i++ {
		c := cgi[i]
		switch {
		case c == '_':
			c = '-'
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if k, ok := commonHeaders[string(b)]; ok {
		return k
	}
	return string(b)
}

// commonHeaders interns header names; it is never written after init.
var commonHeaders = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type", "Cookie", "Dnt",
		"If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
		"Origin", "Pragma", "Range", "Referer", "Sec-Fetch-Dest", "Sec-Fetch-Mode",
		"Sec-Fetch-Site", "Sec-Fetch-User", "Te", "Upgrade-Insecure-Requests", "User-Agent",
		"Via", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
		"X-Requested-With",
	} {
		m[k] = k
	}
	return m
}()

// Param returns the CGI variable name of a request served by fcgiserver,
// for example "SCRIPT_NAME", "PATH_INFO", "DOCUMENT_ROOT" or
// "SERVER_SOFTWARE"; "" if it is unset or r did not come from fcgiserver.
func Param(r *http.Request, name string) string {
	if req := requestOf(r); req != nil {
		return lookup(req.params, name)
	}
	return ""
}

// Params returns every CGI variable of a request served by fcgiserver, in
// the order the web server sent them. The slice must not be modified.
func Params(r *http.Request) []record.Pair {
	if req := requestOf(r); req != nil {
		return req.params
	}
	return nil
}
