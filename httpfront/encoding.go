package httpfront

import (
	"strconv"
	"strings"
)

// sidecar encodings in order of preference when the client accepts several
// with the same q-value.
var sidecarEncodings = [...]struct{ token, ext string }{
	{"br", ".br"}, {"zstd", ".zst"}, {"gzip", ".gz"},
}

// acceptedEncodings parses Accept-Encoding into q-values per coding
// (lower-case); "*" is kept as a key. Malformed q-values count as 0.
func acceptedEncodings(values []string) map[string]float64 {
	if len(values) == 0 {
		return nil
	}
	q := map[string]float64{}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			q[name] = qValue(params)
		}
	}
	return q
}

func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0
		}
		return f
	}
	return 1
}

// pickEncoding returns the index in sidecarEncodings of the best coding
// that the client accepts and for which have(i) is true, or -1 for the
// identity encoding.
func pickEncoding(accept []string, have func(i int) bool) int {
	q := acceptedEncodings(accept)
	if q == nil {
		return -1
	}
	best, bestQ := -1, 0.0
	for i, e := range sidecarEncodings {
		if !have(i) {
			continue
		}
		v, ok := q[e.token]
		if !ok {
			if e.token == "gzip" {
				v, ok = q["x-gzip"]
			}
			if !ok {
				v = q["*"]
			}
		}
		if v > bestQ {
			best, bestQ = i, v
		}
	}
	return best
}
