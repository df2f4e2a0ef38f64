package fcgiserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// respBufSize is how much body a response buffers before sending a STDOUT
// record; writes at least this large go out without being copied.
const respBufSize = 8 << 10

// response is the http.ResponseWriter of a request, owned by a worker.
type response struct {
	req         *request
	header      http.Header
	status      int
	wroteHeader bool
	committed   bool   // headers sent
	body        []byte // buffered body, cap respBufSize
	out         []byte // framing scratch
	hdr         []byte // header text scratch
	written     int64
	err         error
	iov         [3][]byte
	recHdr      [record.HeaderLen]byte
}

func (r *response) init() {
	r.body = make([]byte, 0, respBufSize)
	r.header = make(http.Header)
}

func (r *response) reset(req *request) {
	r.req = req
	clear(r.header)
	r.status, r.wroteHeader, r.committed = 0, false, false
	r.body, r.written, r.err = r.body[:0], 0, nil
	r.iov = [3][]byte{}
}

func (r *response) Header() http.Header { return r.header }

func (r *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("fcgiserver: invalid WriteHeader code %v", code))
	}
	if r.wroteHeader || code < 200 {
		return // informational responses are not relayed through CGI
	}
	r.wroteHeader, r.status = true, code
}

func (r *response) bodyAllowed() bool {
	return r.status != http.StatusNoContent && r.status != http.StatusNotModified
}

func (r *response) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	if r.err == nil && r.req.finished.Load() {
		r.err = ErrFinished
	}
	if r.err != nil {
		return 0, r.err
	}
	if !r.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	if len(r.body)+len(p) <= cap(r.body) {
		r.body = append(r.body, p...)
		r.written += int64(len(p))
		return len(p), nil
	}
	// Fill the buffer (so the first record is full and Content-Type can be
	// sniffed), send it, then copy or send the rest.
	n := cap(r.body) - len(r.body)
	r.body = append(r.body, p[:n]...)
	if err := r.send(false); err != nil {
		return 0, err
	}
	if rest := p[n:]; len(rest) < cap(r.body) {
		r.body = append(r.body, rest...)
	} else if err := r.sendDirect(rest); err != nil {
		return n, err
	}
	r.written += int64(len(p))
	return len(p), nil
}

func (r *response) WriteString(s string) (int, error) {
	if r.wroteHeader && r.err == nil && !r.req.finished.Load() && r.bodyAllowed() && len(r.body)+len(s) <= cap(r.body) {
		r.body = append(r.body, s...)
		r.written += int64(len(s))
		return len(s), nil
	}
	return r.Write([]byte(s))
}

// Flush sends the headers and buffered body now.
func (r *response) Flush() { r.FlushError() }

// FlushError is Flush for http.ResponseController.
func (r *response) FlushError() error {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	if r.err != nil {
		return r.err
	}
	return r.send(false)
}

// EnableFullDuplex lets http.ResponseController enable full duplex: the
// body can always be read while the response is written.
func (r *response) EnableFullDuplex() error { return nil }

// finish sends what is left, the end of STDOUT and END_REQUEST, in one
// write.
func (r *response) finish() {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	r.send(true)
}

// recoverPanic answers 500 if nothing was sent yet; otherwise it drops the
// connection, the only way to tell the web server the response is broken.
func (r *response) recoverPanic() bool {
	if !r.committed {
		clear(r.header)
		r.header.Set("Content-Type", "text/plain; charset=utf-8")
		r.status, r.wroteHeader, r.err = http.StatusInternalServerError, true, nil
		r.body = append(r.body[:0], "500 Internal Server Error\n"...)
		return true
	}
	req, c := r.req, r.req.c
	c.wmu.Lock()
	already := req.finished.Load()
	if !already {
		req.finished.Store(true)
		c.dead.Store(true)
		c.nc.Close()
	}
	c.wmu.Unlock()
	if !already {
		req.ended()
	}
	return false
}

// send frames the headers (first time) and buffered body as STDOUT; final
// adds the empty STDOUT record and END_REQUEST.
func (r *response) send(final bool) error {
	req, c := r.req, r.req.c
	c.wmu.Lock()
	if req.finished.Load() {
		c.wmu.Unlock()
		r.err = ErrFinished
		return r.err
	}
	out := r.out[:0]
	if !r.committed {
		r.hdr = r.appendHeader(r.hdr[:0], final)
		out = appendStdout(out, req.id, r.hdr, r.body)
		r.committed, req.headersSent = true, true
	} else {
		out = record.AppendStream(out, record.TypeStdout, req.id, r.body)
	}
	r.body = r.body[:0]
	if final {
		out = record.AppendRecord(out, record.TypeStdout, req.id, nil)
		out = req.appendEnd(out, 0, record.StatusRequestComplete)
		req.finished.Store(true)
	}
	err := c.write(out)
	c.wmu.Unlock()
	r.out = out
	if final {
		req.ended()
	}
	if err != nil {
		r.err = err
	}
	return err
}

// appendStdout frames head followed by body as STDOUT records.
func appendStdout(out []byte, id uint16, head, body []byte) []byte {
	n := len(head) + len(body)
	if n == 0 || n > record.MaxContent {
		out = record.AppendStream(out, record.TypeStdout, id, head)
		return record.AppendStream(out, record.TypeStdout, id, body)
	}
	out = record.AppendHeader(out, record.TypeStdout, id, n)
	out = append(out, head...)
	out = append(out, body...)
	return append(out, make([]byte, record.PadLen(n))...)
}

// sendDirect sends a large p as STDOUT records without copying it.
func (r *response) sendDirect(p []byte) error {
	req, c := r.req, r.req.c
	var pad [8]byte
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for len(p) > 0 {
		if req.finished.Load() {
			r.err = ErrFinished
			return r.err
		}
		n := min(len(p), record.MaxContent)
		record.AppendHeader(r.recHdr[:0], record.TypeStdout, req.id, n)
		r.iov = [3][]byte{r.recHdr[:], p[:n], pad[:record.PadLen(n)]}
		if err := c.writev(&r.iov); err != nil {
			r.err = err
			return err
		}
		p = p[n:]
	}
	return nil
}

// appendHeader writes the CGI response header: Status first, then the
// handler's headers, with Content-Type sniffed and Content-Length added
// when the whole body is known.
func (r *response) appendHeader(b []byte, final bool) []byte {
	b = append(b, "Status: "...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	if text := http.StatusText(r.status); text != "" {
		b = append(b, ' ')
		b = append(b, text...)
	}
	b = append(b, "\r\n"...)
	h := r.header
	if r.bodyAllowed() {
		if _, ok := h["Content-Type"]; !ok && len(r.body) > 0 {
			b = appendField(b, "Content-Type", http.DetectContentType(r.body))
		}
		_, hasCL := h["Content-Length"]
		_, hasTE := h["Transfer-Encoding"]
		if final && !hasCL && !hasTE && (r.written > 0 || r.req.hr.Method != http.MethodHead) {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, int64(len(r.body)), 10)
			b = append(b, "\r\n"...)
		}
	}
	for k, vs := range h {
		if k == "Status" || !validFieldName(k) {
			continue
		}
		for _, v := range vs {
			b = appendField(b, k, v)
		}
	}
	return append(b, "\r\n"...)
}

// appendField appends "k: v", turning line breaks in v into spaces so a
// value cannot inject header lines.
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	if !strings.ContainsAny(v, "\r\n") {
		b = append(b, v...)
	} else {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c == '\r' || c == '\n' {
				b = append(b, ' ')
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, "\r\n"...)
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return true
}
