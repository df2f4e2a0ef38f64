package fcgiclient

import (
	"fmt"
	"io"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// stdoutReader reads the STDOUT stream of the current request, passing
// STDERR to a callback and stopping at END_REQUEST.
type stdoutReader struct {
	c          *Conn
	timeout    time.Duration
	stderr     func(backend string, msg []byte)
	cur        []byte // unread content of the current STDOUT record
	got        bool   // any record arrived
	done       bool   // END_REQUEST seen
	stdoutEnd  bool   // the empty STDOUT record seen
	overloaded bool   // the app refused the request (retry elsewhere)
	end        record.EndRequest
}

// Read implements io.Reader for the header parser.
func (s *stdoutReader) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		chunk, err := s.next()
		if len(chunk) > 0 {
			n := copy(p, chunk)
			s.cur = chunk[n:]
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// next returns the next piece of STDOUT (first what Read left over), or
// io.EOF after END_REQUEST. The slice is valid until the next call.
func (s *stdoutReader) next() ([]byte, error) {
	if len(s.cur) > 0 {
		b := s.cur
		s.cur = nil
		return b, nil
	}
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
		if rec.RequestID != requestID {
			continue // management records or a confused peer: ignore
		}
		switch rec.Type {
		case record.TypeStdout:
			if len(rec.Content) == 0 {
				s.stdoutEnd = true
				continue
			}
			return rec.Content, nil
		case record.TypeStderr:
			if s.stderr != nil && len(rec.Content) > 0 {
				s.stderr(s.c.b.Name, rec.Content)
			}
		case record.TypeEndRequest:
			end, err := record.ParseEndRequest(rec.Content)
			if err != nil {
				return nil, fmt.Errorf("decoding END_REQUEST: %w", err)
			}
			s.end, s.done = end, true
			s.overloaded = end.ProtocolStatus == record.StatusOverloaded
		}
	}
	return nil, io.EOF
}

// clean reports whether the connection may carry another request.
func (s *stdoutReader) clean() bool {
	return s.done && s.end.ProtocolStatus == record.StatusRequestComplete && s.c.r.Buffered() == 0
}
