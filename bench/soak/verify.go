package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
)

// expect says what a request may be answered with.
type expect struct {
	method  string
	target  string
	want    []byte // the whole 200 body; nil: not checked
	file    []byte // when set, 206 answers are checked against it
	missing bool   // nothing is at the path: a 2xx is wrong
	// invalid: the request is malformed; an error status (or a close)
	// is right, and so is the answer the well-formed request would get.
	invalid bool
	// noSuccess: the request must not succeed (framing the front end
	// must refuse): a 2xx is wrong.
	noSuccess bool
}

// outcome classifies one answer.
type outcome int

const (
	outOK        outcome = iota // a 2xx/3xx that matched
	outRejected                 // a 4xx
	outServerErr                // a 5xx
	outWrong                    // a wrong status or wrong bytes
	outDesync                   // the smuggled page: framing disagreement
)

// check classifies resp (whose whole body is body) against e; the error
// says what is wrong for outWrong and outDesync.
func (s *site) check(e expect, resp *http.Response, body []byte) (outcome, error) {
	if bytes.Contains(body, s.marker) {
		return outDesync, fmt.Errorf("%s %s answered with the smuggled page (%s)", e.method, e.target, resp.Status)
	}
	code := resp.StatusCode
	switch {
	case code >= 500:
		return outServerErr, nil
	case code == http.StatusNotFound && !e.missing && e.want != nil && !e.invalid:
		return outWrong, fmt.Errorf("%s %s: 404 for a page that exists", e.method, e.target)
	case code >= 400:
		return outRejected, nil
	case code < 200 || code >= 300:
		return outOK, nil // 1xx are read by ReadResponse; 3xx carry no page
	case e.missing || e.noSuccess:
		return outWrong, fmt.Errorf("%s %s: %s %s, want an error", e.method, e.target, resp.Status, abbrev(body))
	case code == http.StatusPartialContent:
		if e.file == nil {
			return outWrong, fmt.Errorf("%s %s: 206 to a request without Range", e.method, e.target)
		}
		if err := checkPartial(resp, body, e.file); err != nil {
			return outWrong, fmt.Errorf("%s %s: %w", e.method, e.target, err)
		}
		return outOK, nil
	}
	if err := checkWhole(e, resp, body); err != nil {
		return outWrong, err
	}
	return outOK, nil
}

// checkWhole checks a 2xx that is not a 206: the whole page.
func checkWhole(e expect, resp *http.Response, body []byte) error {
	if e.want == nil {
		return nil
	}
	if e.method == http.MethodHead {
		if resp.ContentLength >= 0 && resp.ContentLength != int64(len(e.want)) {
			return fmt.Errorf("HEAD %s: Content-Length %d, want %d", e.target, resp.ContentLength, len(e.want))
		}
		return nil
	}
	if !bytes.Equal(body, e.want) {
		return fmt.Errorf("%s %s: %s with %d bytes (%s), want %d bytes (%s)", e.method, e.target,
			resp.Status, len(body), firstDiff(body, e.want), len(e.want), abbrev(e.want))
	}
	return nil
}

// checkPartial checks a 206: one range (Content-Range) or several
// (multipart/byteranges), every byte against file.
func checkPartial(resp *http.Response, body, file []byte) error {
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return nil
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err == nil && mt == "multipart/byteranges" {
		return checkMultipart(body, params["boundary"], file)
	}
	return checkRange(resp.Header.Get("Content-Range"), body, file)
}

func checkMultipart(body []byte, boundary string, file []byte) error {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	n := 0
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("multipart/byteranges part %d: %w", n, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return fmt.Errorf("multipart/byteranges part %d: %w", n, err)
		}
		if err := checkRange(p.Header.Get("Content-Range"), b, file); err != nil {
			return fmt.Errorf("part %d: %w", n, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("multipart/byteranges without parts")
	}
	return nil
}

// checkRange checks that b is the range cr ("bytes A-B/SIZE") of file.
func checkRange(cr string, b, file []byte) error {
	spec, ok := strings.CutPrefix(cr, "bytes ")
	rng, size, ok2 := strings.Cut(spec, "/")
	first, last, ok3 := strings.Cut(rng, "-")
	a, err1 := strconv.ParseInt(first, 10, 64)
	z, err2 := strconv.ParseInt(last, 10, 64)
	if !ok || !ok2 || !ok3 || err1 != nil || err2 != nil || a < 0 || z < a {
		return fmt.Errorf("Content-Range %q", cr)
	}
	if size != strconv.Itoa(len(file)) || z >= int64(len(file)) {
		return fmt.Errorf("Content-Range %q for a file of %d bytes", cr, len(file))
	}
	if want := file[a : z+1]; !bytes.Equal(b, want) {
		return fmt.Errorf("range %s: %d bytes (%s), want %d", rng, len(b), firstDiff(b, want), len(want))
	}
	return nil
}

// firstDiff describes where got first differs from want.
func firstDiff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at %d: %s", i, abbrev(got[i:]))
		}
	}
	return "one is a prefix of the other: " + abbrev(got)
}

// abbrev quotes the start of b.
func abbrev(b []byte) string {
	if len(b) > 48 {
		return fmt.Sprintf("%q...", b[:48])
	}
	return fmt.Sprintf("%q", b)
}
