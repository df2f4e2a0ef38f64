package httpfront

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// fastWriter is the fast path's http.ResponseWriter for one HTTP/1.1
// connection, reused from request to request. It follows net/http's
// rules: Content-Length is set for a small body when the handler is done,
// otherwise the body is chunked; no body for HEAD, 1xx, 204 and 304;
// Content-Type is sniffed when missing; Date is added.
type fastWriter struct {
	c      *fastConn
	bw     *outBuf
	header http.Header
	head   bool // HEAD request

	status      int
	wroteHeader bool // WriteHeader called with a final status
	committed   bool // status line and header are in bw
	chunking    bool
	clen        int64 // -1 when unknown
	written     int64
	pending     []byte // body held back before the header is committed
	handlerDone bool
	closeAfter  bool
	werr        error
}

// pendingMax is how much body is held back to compute a Content-Length.
const pendingMax = 4096

func (w *fastWriter) reset(head, wantsClose bool) {
	if len(w.header) > 0 {
		clear(w.header)
	}
	*w = fastWriter{c: w.c, bw: w.bw, header: w.header, head: head, closeAfter: wantsClose,
		clen: -1, pending: w.pending[:0]}
}

func (w *fastWriter) Header() http.Header { return w.header }

func (w *fastWriter) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.srv.errLog.Printf("http: superfluous response.WriteHeader call (fast path)")
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.wroteHeader, w.status = true, code
	if cl := firstValue(w.header, "Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.clen = v
		} else {
			w.c.srv.errLog.Printf("http: invalid Content-Length of %q", cl)
			w.header.Del("Content-Length")
		}
	}
}

func (w *fastWriter) writeInterim(code int) {
	w.bw.WriteString("HTTP/1.1 ")
	w.bw.WriteString(statusLine(code))
	w.writeFields(true)
	w.bw.WriteString("\r\n")
	w.flushConn()
}

func (w *fastWriter) bodyAllowed() bool { return bodyAllowed(w.status) }

func bodyAllowed(code int) bool { return !(code >= 100 && code <= 199 || code == 204 || code == 304) }

func (w *fastWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.clen != -1 && w.written > w.clen {
		return 0, http.ErrContentLength
	}
	if !w.committed {
		if w.clen == -1 && len(w.pending)+len(p) <= pendingMax {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.commit()
	}
	return w.body(p)
}

func (w *fastWriter) WriteString(s string) (int, error) {
	return w.Write([]byte(s)) // rare: only http.Error and friends
}

// writePrepared sends a prepared whole-file answer (preparedWriter):
// the header resp, then Cache-Control cc, Connection: close when the
// connection ends after it, Date, and body unless the request is HEAD.
func (w *fastWriter) writePrepared(resp []byte, cc string, body []byte) (int64, bool) {
	if w.c.head.cond || w.wroteHeader || len(w.header) != 0 || len(w.pending) != 0 || w.werr != nil {
		return 0, false
	}
	w.wroteHeader, w.committed, w.status = true, true, http.StatusOK
	w.clen = int64(len(body))
	bw := w.bw
	bw.b = append(bw.b, resp...)
	if cc != "" {
		bw.WriteString("Cache-Control: ")
		bw.WriteString(fieldOut(cc))
		bw.WriteString("\r\n")
	}
	if w.closeAfter {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("Date: ")
	bw.b = append(bw.b, w.c.srv.dates.at(w.c.now)...)
	bw.WriteString("\r\n\r\n")
	if w.head || len(body) == 0 {
		return 0, true
	}
	w.written = w.clen
	n, _ := w.body(body)
	return int64(n), true
}

// body writes p after the header, chunked if need be.
func (w *fastWriter) body(p []byte) (int, error) {
	if w.head || w.werr != nil {
		return len(p), w.werr
	}
	if w.chunking {
		w.bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		w.bw.WriteString("\r\n")
	}
	n, err := w.bw.Write(p)
	if w.chunking {
		w.bw.WriteString("\r\n")
	}
	if err != nil {
		w.fail(err)
	}
	return n, err
}

// commit writes the status line and header to bw, then what was held
// back of the body.
func (w *fastWriter) commit() {
	if w.committed {
		return
	}
	w.committed = true
	p := w.pending
	h := w.header
	te := firstValue(h, "Transfer-Encoding")
	delete(h, "Transfer-Encoding")
	var setCL, setCT string
	_, hasCL := h["Content-Length"]
	if w.handlerDone && w.bodyAllowed() && te == "" && !hasCL && (!w.head || len(p) > 0) {
		w.clen = int64(len(p))
		setCL = strconv.Itoa(len(p))
	}
	if firstValue(h, "Connection") == "close" {
		w.closeAfter = true
	}
	if w.bodyAllowed() {
		if _, haveType := h["Content-Type"]; !haveType && firstValue(h, "Content-Encoding") == "" && te == "" && len(p) > 0 {
			setCT = http.DetectContentType(p)
		}
	} else {
		delete(h, "Content-Length")
		if w.status == http.StatusNotModified {
			delete(h, "Content-Type")
		}
	}
	switch {
	case w.head || !w.bodyAllowed():
	case w.clen != -1:
	case te == "identity":
		w.closeAfter = true
	default:
		w.chunking = true
		delete(h, "Content-Length")
	}
	bw := w.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(statusLine(w.status))
	if w.closeAfter && !hasToken(firstValue(h, "Connection"), "close") {
		delete(h, "Connection")
		h["Connection"] = connClose
	}
	w.writeFields(false)
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(w.c.srv.dates.get())
		bw.WriteString("\r\n")
	}
	if setCL != "" {
		bw.WriteString("Content-Length: ")
		bw.WriteString(setCL)
		bw.WriteString("\r\n")
	}
	if setCT != "" {
		bw.WriteString("Content-Type: ")
		bw.WriteString(setCT)
		bw.WriteString("\r\n")
	}
	if w.chunking {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
	w.pending = p[:0]
	if len(p) > 0 {
		w.body(p)
	}
}

var connClose = []string{"close"}

// firstValue is h.Get for a key already in canonical form.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// writeFields writes the handler's header fields as net/http does:
// invalid names dropped, line breaks in values turned into spaces. interim
// leaves out the fields that describe a body.
func (w *fastWriter) writeFields(interim bool) {
	bw := w.bw
	for k, vs := range w.header {
		if !tokenString(k) || interim && (k == "Content-Length" || k == "Transfer-Encoding") {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(fieldOut(v))
			bw.WriteString("\r\n")
		}
	}
}

// fieldOut returns v as net/http writes a field value: line breaks turned
// into spaces, surrounding white space trimmed.
func fieldOut(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' {
			v = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(v)
			break
		}
	}
	if v != "" && (isSpace(v[0]) || isSpace(v[len(v)-1])) {
		v = strings.Trim(v, " \t")
	}
	return v
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// finish ends the response after the handler returned.
func (w *fastWriter) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.commit()
	if w.chunking && !w.head {
		w.bw.WriteString("0\r\n\r\n")
	}
	if !w.head && w.clen != -1 && w.bodyAllowed() && w.clen != w.written {
		w.closeAfter = true // short body: the connection is out of step
	}
}

// Flush sends what is buffered, committing the header first.
func (w *fastWriter) Flush() { _ = w.FlushError() }

func (w *fastWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.commit()
	return w.flushConn()
}

func (w *fastWriter) flushConn() error {
	if w.werr != nil {
		return w.werr
	}
	if err := w.bw.Flush(); err != nil {
		w.fail(err)
	}
	return w.werr
}

func (w *fastWriter) fail(err error) {
	if w.werr == nil {
		w.werr = err
		w.closeAfter = true
		w.c.nc.Close()
	}
}

// ReadFrom sends a file with sendfile when the length is known.
func (w *fastWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.clen == -1 || w.head || !w.bodyAllowed() {
		return io.Copy(writerOnly{w}, src)
	}
	rf, ok := w.c.nc.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{w}, src)
	}
	w.commit()
	if err := w.flushConn(); err != nil {
		return 0, err
	}
	n, err := rf.ReadFrom(src)
	w.written += n
	if err != nil {
		w.fail(err)
	}
	return n, err
}

// writerOnly hides ReadFrom, so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

// SetReadDeadline and SetWriteDeadline serve http.ResponseController;
// a deadline may fire up to 250 ms late (coarseDeadline).
func (w *fastWriter) SetReadDeadline(t time.Time) error {
	return w.c.rdl.set(t, 250*time.Millisecond, w.c.nc.SetReadDeadline)
}

func (w *fastWriter) SetWriteDeadline(t time.Time) error {
	return w.c.wdl.set(t, 250*time.Millisecond, w.c.nc.SetWriteDeadline)
}

// EnableFullDuplex is a no-op: fast path requests have no body.
func (w *fastWriter) EnableFullDuplex() error { return nil }

// statusLine returns "200 OK\r\n" and the like.
func statusLine(code int) string {
	switch code {
	case 200:
		return "200 OK\r\n"
	case 304:
		return "304 Not Modified\r\n"
	case 404:
		return "404 Not Found\r\n"
	}
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text + "\r\n"
	}
	return strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n"
}
