package fcgiclient

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// errProtocol marks a backend that broke the FastCGI protocol on a
// connection: a record for another request, of a type a responder does
// not send, or after its stream ended. The connection is closed, never
// reused; the client gets 502, or a cut response once it has started.
var errProtocol = errors.New("FastCGI protocol violation")

// ErrHeaderTooLarge is an app's CGI header block over the bound (502).
var ErrHeaderTooLarge = errors.New("CGI response header too large")

// DefaultMaxHeaderBytes bounds an app's CGI header block by default.
const DefaultMaxHeaderBytes = 64 << 10

// stdoutReader reads the STDOUT stream of the current request, passing
// STDERR to a callback and stopping at END_REQUEST. Any record that does
// not belong there is an error (errProtocol).
type stdoutReader struct {
	c          *Conn
	timeout    time.Duration
	stderr     func(backend string, msg []byte)
	cur        []byte // unread content of the current STDOUT record
	headerLeft int    // while > 0 or limiting: bytes Read may still return
	limiting   bool   // Read is bounded (the CGI header is being parsed)
	got        bool   // any record arrived
	own        bool   // a valid record of this request arrived
	done       bool   // END_REQUEST seen
	stdoutEnd  bool   // the empty STDOUT record seen
	overloaded bool   // the app refused the request (retry elsewhere)
	end        record.EndRequest
	err        error // the first failure, returned from then on
}

// limitHeader bounds what Read returns to n bytes until endHeader: the
// header parser then never holds more than n bytes of header.
func (s *stdoutReader) limitHeader(n int) { s.limiting, s.headerLeft = true, n }

func (s *stdoutReader) endHeader() { s.limiting = false }

// Read implements io.Reader for the header parser.
func (s *stdoutReader) Read(p []byte) (int, error) {
	if s.limiting {
		if s.headerLeft <= 0 {
			return 0, s.overBound()
		}
		p = p[:min(len(p), s.headerLeft)]
	}
	if err := s.fill(); err != nil {
		return 0, err
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	s.headerLeft -= n
	return n, nil
}

// overBound is Read's answer once the header has had its bound: an app
// whose STDOUT ends exactly there sent an unterminated header (the
// stream's own error, as below the bound); more STDOUT is a header too
// large. What is looked at stays unread.
func (s *stdoutReader) overBound() error {
	if err := s.fill(); err != nil {
		return err
	}
	s.err = ErrHeaderTooLarge
	return s.err
}

// fill makes cur hold unread STDOUT, or says why there is none (io.EOF
// after END_REQUEST).
func (s *stdoutReader) fill() error {
	for len(s.cur) == 0 {
		chunk, err := s.next()
		if len(chunk) > 0 {
			s.cur = chunk
			break
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// next returns the next piece of STDOUT (first what Read left over), or
// io.EOF after END_REQUEST. The slice is valid until the next call. An
// error sticks: a caller that ignores one (textproto's Peek does) must not
// read on past a bad record.
func (s *stdoutReader) next() ([]byte, error) {
	if len(s.cur) > 0 {
		b := s.cur
		s.cur = nil
		return b, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	b, err := s.read()
	if err != nil && err != io.EOF {
		s.err = err
	}
	return b, err
}

func (s *stdoutReader) read() ([]byte, error) {
	for !s.done {
		if s.got {
			_ = s.c.nc.SetReadDeadline(time.Now().Add(s.timeout))
		}
		rec, err := s.c.r.Next()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fmt.Errorf("reading FastCGI record: %w", err)
		}
		s.got = true
		if content, err := s.take(rec); err != nil || len(content) > 0 {
			return content, err
		}
	}
	return nil, io.EOF
}

// take checks one record against the request in flight and returns its
// STDOUT content, if any.
func (s *stdoutReader) take(rec record.Record) ([]byte, error) {
	if rec.RequestID != s.c.id {
		return nil, fmt.Errorf("%w: %v record for request %d, want %d", errProtocol, rec.Type, rec.RequestID, s.c.id)
	}
	switch rec.Type {
	case record.TypeStdout:
		if s.stdoutEnd && len(rec.Content) > 0 {
			return nil, fmt.Errorf("%w: STDOUT after the end of the stream", errProtocol)
		}
		s.stdoutEnd = s.stdoutEnd || len(rec.Content) == 0
	case record.TypeStderr:
		if s.stderr != nil && len(rec.Content) > 0 {
			s.stderr(s.c.b.Name, rec.Content)
		}
	case record.TypeEndRequest:
		end, err := record.ParseEndRequest(rec.Content)
		if err != nil {
			return nil, fmt.Errorf("%w: decoding END_REQUEST: %w", errProtocol, err)
		}
		s.end, s.done = end, true
		s.overloaded = end.ProtocolStatus == record.StatusOverloaded
	default:
		return nil, fmt.Errorf("%w: unexpected %v record", errProtocol, rec.Type)
	}
	s.own = true
	if rec.Type == record.TypeStdout {
		return rec.Content, nil
	}
	return nil, nil
}

// clean reports whether the connection may carry another request: the
// request ended normally and nothing more came (buffered or waiting in
// the socket).
func (s *stdoutReader) clean() bool {
	return s.done && s.end.ProtocolStatus == record.StatusRequestComplete && s.c.r.Buffered() == 0
}
