package httpfront

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// precondition evaluates If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since (RFC 9110 section 13.2.2) and returns 0 to go on, or
// 304 / 412.
func precondition(r *http.Request, etag string, mod time.Time) int {
	h := r.Header
	if im := h["If-Match"]; len(im) > 0 {
		if !etagListMatch(im, etag, true) {
			return http.StatusPreconditionFailed
		}
	} else if ius := firstValue(h, "If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && mod.Truncate(time.Second).After(t) {
			return http.StatusPreconditionFailed
		}
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	if inm := h["If-None-Match"]; len(inm) > 0 {
		if etagListMatch(inm, etag, false) {
			if get {
				return http.StatusNotModified
			}
			return http.StatusPreconditionFailed
		}
		return 0
	}
	if ims := firstValue(h, "If-Modified-Since"); ims != "" && get {
		if t, err := http.ParseTime(ims); err == nil && !mod.Truncate(time.Second).After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// etagListMatch reports whether a list of entity tags (or "*") matches
// etag, with strong or weak comparison.
func etagListMatch(values []string, etag string, strong bool) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = textproto.TrimString(tag)
			switch {
			case tag == "*":
				return true
			case strings.HasPrefix(tag, "W/"):
				if !strong && tag[2:] == etag {
					return true
				}
			case tag == etag:
				return true
			}
		}
	}
	return false
}

// byteRange is a satisfiable range [start, start+length).
type byteRange struct{ start, length int64 }

// parseRange parses a Range header against a representation of size
// bytes. ok is false when the header is syntactically bad, which means the
// range is ignored (RFC 9110: a server MAY ignore it); an empty result with
// ok true means no range is satisfiable (416).
func parseRange(s string, size int64) (ranges []byteRange, ok bool) {
	spec, found := strings.CutPrefix(s, "bytes=")
	if !found {
		return nil, false
	}
	for part := range strings.SplitSeq(spec, ",") {
		part = textproto.TrimString(part)
		if part == "" {
			continue
		}
		first, last, found := strings.Cut(part, "-")
		if !found {
			return nil, false
		}
		first, last = textproto.TrimString(first), textproto.TrimString(last)
		r, valid, sat := oneRange(first, last, size)
		if !valid {
			return nil, false
		}
		if sat {
			ranges = append(ranges, r)
		}
		if len(ranges) > 32 {
			return nil, false // too many: ignore, serve the whole file
		}
	}
	return ranges, true
}

func oneRange(first, last string, size int64) (r byteRange, valid, satisfiable bool) {
	if first == "" { // suffix: the last N bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return r, false, false
		}
		if n == 0 || size == 0 {
			return r, true, false
		}
		n = min(n, size)
		return byteRange{size - n, n}, true, true
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return r, false, false
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return r, false, false
		}
		end = min(e, size-1)
	}
	if start >= size {
		return r, true, false
	}
	return byteRange{start, end - start + 1}, true, true
}

// ifRangeAllows reports whether a Range may be honoured given If-Range.
func ifRangeAllows(r *http.Request, etag string, mod time.Time) bool {
	ir := firstValue(r.Header, "If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, "\"") {
		return ir == etag
	}
	t, err := http.ParseTime(ir)
	return err == nil && mod.Truncate(time.Second).Equal(t)
}
