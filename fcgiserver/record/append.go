package record

import "fmt"

var zeroPad [MaxPadding]byte

// AppendHeader appends the header of a record of type t for request id with
// n content bytes, padded to a multiple of 8. It panics if n > MaxContent.
func AppendHeader(dst []byte, t Type, id uint16, n int) []byte {
	if n < 0 || n > MaxContent {
		panic(fmt.Sprintf("fcgi record: content length %d out of range", n))
	}
	return append(dst, Version1, byte(t), byte(id>>8), byte(id),
		byte(n>>8), byte(n), byte(PadLen(n)), 0)
}

// AppendRecord appends one record: header, content and padding to 8. It
// panics if len(content) > MaxContent. An empty content ends a stream.
func AppendRecord(dst []byte, t Type, id uint16, content []byte) []byte {
	dst = AppendHeader(dst, t, id, len(content))
	dst = append(dst, content...)
	return append(dst, zeroPad[:PadLen(len(content))]...)
}

// AppendStream appends content as records of type t of at most MaxContent
// bytes each. It appends nothing for empty content: end a stream with
// AppendRecord(dst, t, id, nil).
func AppendStream(dst []byte, t Type, id uint16, content []byte) []byte {
	for len(content) > 0 {
		n := min(len(content), MaxContent)
		dst = AppendRecord(dst, t, id, content[:n])
		content = content[n:]
	}
	return dst
}

// AppendBeginRequest appends a BEGIN_REQUEST record.
func AppendBeginRequest(dst []byte, id uint16, role Role, flags Flags) []byte {
	dst = AppendHeader(dst, TypeBeginRequest, id, 8)
	return append(dst, byte(role>>8), byte(role), byte(flags), 0, 0, 0, 0, 0)
}

// AppendAbortRequest appends an ABORT_REQUEST record.
func AppendAbortRequest(dst []byte, id uint16) []byte {
	return AppendHeader(dst, TypeAbortRequest, id, 0)
}

// AppendEndRequest appends an END_REQUEST record.
func AppendEndRequest(dst []byte, id uint16, appStatus uint32, ps ProtocolStatus) []byte {
	dst = AppendHeader(dst, TypeEndRequest, id, 8)
	return append(dst, byte(appStatus>>24), byte(appStatus>>16), byte(appStatus>>8),
		byte(appStatus), byte(ps), 0, 0, 0)
}

// AppendUnknownType appends the UNKNOWN_TYPE reply to a management record
// of type t.
func AppendUnknownType(dst []byte, t Type) []byte {
	dst = AppendHeader(dst, TypeUnknownType, 0, 8)
	return append(dst, byte(t), 0, 0, 0, 0, 0, 0, 0)
}

// BeginRequest is the body of a BEGIN_REQUEST record.
type BeginRequest struct {
	Role  Role
	Flags Flags
}

// KeepConn reports whether the client asked to keep the connection.
func (b BeginRequest) KeepConn() bool { return b.Flags&FlagKeepConn != 0 }

// ParseBeginRequest decodes the content of a BEGIN_REQUEST record.
func ParseBeginRequest(content []byte) (BeginRequest, error) {
	if len(content) < 8 {
		return BeginRequest{}, fmt.Errorf("%w: BEGIN_REQUEST has %d bytes, want 8", ErrShortBody, len(content))
	}
	return BeginRequest{Role: Role(content[0])<<8 | Role(content[1]), Flags: Flags(content[2])}, nil
}

// EndRequest is the body of an END_REQUEST record.
type EndRequest struct {
	AppStatus      uint32
	ProtocolStatus ProtocolStatus
}

// ParseEndRequest decodes the content of an END_REQUEST record.
func ParseEndRequest(content []byte) (EndRequest, error) {
	if len(content) < 8 {
		return EndRequest{}, fmt.Errorf("%w: END_REQUEST has %d bytes, want 8", ErrShortBody, len(content))
	}
	st := uint32(content[0])<<24 | uint32(content[1])<<16 | uint32(content[2])<<8 | uint32(content[3])
	return EndRequest{AppStatus: st, ProtocolStatus: ProtocolStatus(content[4])}, nil
}

// ParseUnknownType decodes the content of an UNKNOWN_TYPE record: the type
// the peer did not understand.
func ParseUnknownType(content []byte) (Type, error) {
	if len(content) < 8 {
		return 0, fmt.Errorf("%w: UNKNOWN_TYPE has %d bytes, want 8", ErrShortBody, len(content))
	}
	return Type(content[0]), nil
}
