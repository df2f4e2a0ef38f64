package httpfront

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// accessLog writes one line per request in the combined log format,
// buffered and flushed a few times a second so that logging costs no
// system call per request.
type accessLog struct {
	mu    sync.Mutex
	w     *bufio.Writer
	line  []byte
	stamp atomic.Pointer[logStamp]
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

type logStamp struct {
	sec  int64
	text string
}

func newAccessLog(w io.Writer) *accessLog {
	l := &accessLog{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go l.flusher()
	return l
}

func (l *accessLog) flusher() {
	defer close(l.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.flush()
		case <-l.stop:
			l.flush()
			return
		}
	}
}

func (l *accessLog) flush() {
	l.mu.Lock()
	_ = l.w.Flush()
	l.mu.Unlock()
}

// close flushes and stops the log.
func (l *accessLog) close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// timestamp returns now as [02/Jan/2006:15:04:05 -0700], formatted once a
// second.
func (l *accessLog) timestamp(now time.Time) string {
	sec := now.Unix()
	if s := l.stamp.Load(); s != nil && s.sec == sec {
		return s.text
	}
	s := &logStamp{sec: sec, text: now.Format("02/Jan/2006:15:04:05 -0700")}
	l.stamp.Store(s)
	return s.text
}

// log writes the combined-format line of one request.
func (l *accessLog) log(r *http.Request, status int, size int64, now time.Time) {
	host, _ := splitAddr(r.RemoteAddr)
	ts := l.timestamp(now)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.line[:0]
	b = append(b, host...)
	b = append(b, " - - ["...)
	b = append(b, ts...)
	b = append(b, "] \""...)
	b = appendQuoted(b, r.Method, maxLogMethod)
	b = append(b, ' ')
	b = appendQuoted(b, requestURI(r), maxLogURI)
	b = append(b, ' ')
	b = appendQuoted(b, r.Proto, maxLogProto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	if size > 0 {
		b = strconv.AppendInt(b, size, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	b = appendQuoted(b, orDash(firstValue(r.Header, "Referer")), maxLogHeader)
	b = append(b, "\" \""...)
	b = appendQuoted(b, orDash(firstValue(r.Header, "User-Agent")), maxLogHeader)
	b = append(b, "\"\n"...)
	l.line = b
	_, _ = l.w.Write(b)
}

// What one access-log field may take, escaped: a line is at most about
// 3.5 KiB whatever the request holds (its head may be up to
// max_header_bytes, and an escaped control byte takes four), so a client
// cannot make log lines a reader of the log has to cut.
const (
	maxLogMethod = 32
	maxLogURI    = 2048
	maxLogProto  = 16
	maxLogHeader = 512
)

// appendQuoted appends s with quotes, backslashes and control bytes
// escaped, so a client cannot forge log lines, taking at most max bytes
// for it: a longer field is cut and ends in "...[+N]", N the bytes of s
// left out.
func appendQuoted(b []byte, s string, max int) []byte {
	const hex = "0123456789abcdef"
	limit := len(b) + max
	for i := 0; i < len(s); i++ {
		c := s[i]
		n := 1
		if c == '"' || c == '\\' {
			n = 2
		} else if c < 0x20 || c == 0x7f {
			n = 4
		}
		if len(b)+n > limit {
			return append(append(append(b, "...[+"...), strconv.Itoa(len(s)-i)...), ']')
		}
		switch n {
		case 2:
			b = append(b, '\\', c)
		case 4:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}

// logWriter records the status and size of a response.
type logWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.size += int64(n)
	return n, err
}

// ReadFrom keeps sendfile working through the wrapper.
func (w *logWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.size += n
	return n, err
}

// SendFile keeps the shared-descriptor sendfile working through the wrapper.
func (w *logWriter) SendFile(fd int, off, n int64) (int64, error) {
	fs, ok := w.ResponseWriter.(fileSender)
	if !ok {
		return 0, errNoSendFile
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	sent, err := fs.SendFile(fd, off, n)
	w.size += sent
	return sent, err
}

// writePrepared passes a prepared answer through (preparedWriter).
func (w *logWriter) writePrepared(resp []byte, cc string, body []byte) (int64, bool) {
	pw, ok := w.ResponseWriter.(preparedWriter)
	if !ok {
		return 0, false
	}
	n, ok := pw.writePrepared(resp, cc, body)
	if ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		w.size += n
	}
	return n, ok
}

func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *logWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
