package fcgiclient

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// bytesConn is a backend connection that answers with fixed bytes.
type bytesConn struct{ *bytes.Reader }

func (bytesConn) Write(p []byte) (int, error)          { return len(p), nil }
func (bytesConn) Close() error                         { return nil }
func (bytesConn) SetDeadline(time.Time) error          { return nil }
func (bytesConn) SetReadDeadline(time.Time) error      { return nil }
func (bytesConn) SetWriteDeadline(time.Time) error     { return nil }
func (b bytesConn) Read(p []byte) (int, error)         { return b.Reader.Read(p) }
func (b bytesConn) WriteTo(w io.Writer) (int64, error) { return b.Reader.WriteTo(w) }

// bytesResponse is a response to request 1 read from data, its CGI
// header bounded to bound bytes, as Do sets it up.
func bytesResponse(data []byte, bound int) *Response {
	p := &Pool{opt: Options{MaxHeaderBytes: bound}}
	c := &Conn{nc: bytesConn{bytes.NewReader(data)}, b: &Backend{Name: "test"}, r: record.NewReader(nil), id: 1}
	c.r.Reset(c.nc)
	sr := &stdoutReader{c: c, timeout: time.Second}
	sr.limitHeader(bound)
	return &Response{pool: p, conn: c, sr: sr, req: &Request{Timeout: time.Second}, br: bufio.NewReaderSize(sr, 64)}
}

// valid reports whether data is a well-formed answer to request id: only
// its STDOUT, STDERR and END_REQUEST records, no STDOUT after the stream's
// end, a complete END_REQUEST; and returns its STDOUT content.
func valid(data []byte, id uint16) (bool, []byte) {
	rd := record.NewReader(bytes.NewReader(data))
	var out []byte
	ended := false
	for {
		rec, err := rd.Next()
		if err != nil || rec.RequestID != id {
			return false, out
		}
		switch rec.Type {
		case record.TypeStdout:
			if ended && len(rec.Content) > 0 {
				return false, out
			}
			ended = ended || len(rec.Content) == 0
			out = append(out, rec.Content...)
		case record.TypeStderr:
		case record.TypeEndRequest:
			_, err := record.ParseEndRequest(rec.Content)
			return err == nil, out
		default:
			return false, out
		}
	}
}

// FuzzResponse reads arbitrary bytes as a backend's answer to request 1
// with a small header bound: never a panic; the header parser is never
// given more than the bound; an answer that breaks the protocol is an
// error, never a complete response; and what reaches the client is part
// of the request's own STDOUT.
func FuzzResponse(f *testing.F) {
	ok := func(id uint16, stdout string) []byte {
		b := record.AppendRecord(nil, record.TypeStdout, id, []byte(stdout))
		b = record.AppendRecord(b, record.TypeStdout, id, nil)
		return record.AppendEndRequest(b, id, 0, record.StatusRequestComplete)
	}
	f.Add(ok(1, "Content-Type: text/plain\r\n\r\nhello"))
	f.Add(ok(2, "Status: 200\r\n\r\nother"))
	f.Add(append(ok(1, "Status: 404\r\n\r\n"), ok(1, "Status: 200\r\n\r\nstray")...))
	f.Add(append(record.AppendRecord(nil, record.TypeStderr, 1, []byte("warn")), ok(1, "X: y\r\n\r\n")...))
	f.Add(ok(1, "X-Long: "+string(bytes.Repeat([]byte("a"), 300))+"\r\n\r\n"))
	f.Add(append(record.AppendRecord(nil, 42, 1, []byte("?")), ok(1, "\r\n")...))
	f.Add(ok(1, "X: "+string(bytes.Repeat([]byte("a"), 251))+"\r\n")) // unterminated, 256 bytes
	const bound = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytesResponse(data, bound)
		herr := r.readHeader()
		if r.sr.headerLeft < 0 {
			t.Fatalf("header parser got %d bytes over the bound", -r.sr.headerLeft)
		}
		var body bytes.Buffer
		var berr error
		if herr == nil {
			_, berr = r.WriteBody(&body, nil)
		}
		good, stdout := valid(data, 1)
		if !good && herr == nil && berr == nil {
			t.Fatalf("a broken answer was taken whole: body %q", body.Bytes())
		}
		if !bytes.HasSuffix(stdout, body.Bytes()) && !bytes.Contains(stdout, body.Bytes()) {
			t.Fatalf("body %q is not part of the request's STDOUT %q", body.Bytes(), stdout)
		}
		if errors.Is(herr, ErrHeaderTooLarge) && len(stdout) <= bound && good {
			t.Fatalf("a header within %d bytes refused (%d bytes of STDOUT)", bound, len(stdout))
		}
	})
}
