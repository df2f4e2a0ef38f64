package record

import (
	"errors"
	"fmt"
)

// Version1 is the only FastCGI protocol version.
const Version1 = 1

// HeaderLen is the size of a record header.
const HeaderLen = 8

// MaxContent is the largest content one record can carry.
const MaxContent = 65535

// MaxPadding is the largest padding a record can carry.
const MaxPadding = 255

// ListenSockFileno is the file descriptor on which a process manager
// (lighttpd's bin-path, spawn-fcgi, an init system) passes the listening
// socket to a FastCGI application (FCGI_LISTENSOCK_FILENO).
const ListenSockFileno = 0

// Type is a record type.
type Type uint8

// The eleven record types of FastCGI 1.0.
const (
	TypeBeginRequest    Type = 1
	TypeAbortRequest    Type = 2
	TypeEndRequest      Type = 3
	TypeParams          Type = 4
	TypeStdin           Type = 5
	TypeStdout          Type = 6
	TypeStderr          Type = 7
	TypeData            Type = 8
	TypeGetValues       Type = 9
	TypeGetValuesResult Type = 10
	TypeUnknownType     Type = 11
)

var typeNames = [...]string{
	TypeBeginRequest:    "BEGIN_REQUEST",
	TypeAbortRequest:    "ABORT_REQUEST",
	TypeEndRequest:      "END_REQUEST",
	TypeParams:          "PARAMS",
	TypeStdin:           "STDIN",
	TypeStdout:          "STDOUT",
	TypeStderr:          "STDERR",
	TypeData:            "DATA",
	TypeGetValues:       "GET_VALUES",
	TypeGetValuesResult: "GET_VALUES_RESULT",
	TypeUnknownType:     "UNKNOWN_TYPE",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("TYPE_%d", uint8(t))
}

// IsManagement reports whether t is a management record type, sent with
// request ID 0.
func (t Type) IsManagement() bool {
	return t == TypeGetValues || t == TypeGetValuesResult || t == TypeUnknownType
}

// IsStream reports whether t is a stream type, ended by an empty record.
func (t Type) IsStream() bool {
	switch t {
	case TypeParams, TypeStdin, TypeStdout, TypeStderr, TypeData:
		return true
	}
	return false
}

// Role is the role a BEGIN_REQUEST asks the application to play.
type Role uint16

// The three FastCGI roles.
const (
	RoleResponder  Role = 1
	RoleAuthorizer Role = 2
	RoleFilter     Role = 3
)

// Flags are BEGIN_REQUEST flags.
type Flags uint8

// FlagKeepConn asks the application to keep the connection open after the
// request.
const FlagKeepConn Flags = 1

// ProtocolStatus is the protocol-level status of an END_REQUEST.
type ProtocolStatus uint8

// END_REQUEST protocol status values.
const (
	StatusRequestComplete ProtocolStatus = 0
	StatusCantMpxConn     ProtocolStatus = 1
	StatusOverloaded      ProtocolStatus = 2
	StatusUnknownRole     ProtocolStatus = 3
)

func (s ProtocolStatus) String() string {
	switch s {
	case StatusRequestComplete:
		return "REQUEST_COMPLETE"
	case StatusCantMpxConn:
		return "CANT_MPX_CONN"
	case StatusOverloaded:
		return "OVERLOADED"
	case StatusUnknownRole:
		return "UNKNOWN_ROLE"
	}
	return fmt.Sprintf("STATUS_%d", uint8(s))
}

// Names a GET_VALUES record may ask for.
const (
	ValueMaxConns  = "FCGI_MAX_CONNS"
	ValueMaxReqs   = "FCGI_MAX_REQS"
	ValueMpxsConns = "FCGI_MPXS_CONNS"
)

// Header is a record header.
type Header struct {
	Version       uint8
	Type          Type
	RequestID     uint16
	ContentLength uint16
	PaddingLength uint8
}

// Errors returned by this package.
var (
	ErrVersion     = errors.New("fcgi record: unsupported protocol version")
	ErrZeroID      = errors.New("fcgi record: request ID 0 is reserved for management records")
	ErrNonZeroID   = errors.New("fcgi record: management records use request ID 0")
	ErrTooLong     = errors.New("fcgi record: content longer than 65535 bytes")
	ErrShortBody   = errors.New("fcgi record: record body too short")
	ErrPairTrunc   = errors.New("fcgi record: truncated name-value pair")
	ErrPairTooLong = errors.New("fcgi record: name-value length over 2^31-1")
)

// ParseHeader decodes a header from the first HeaderLen bytes of b.
func ParseHeader(b []byte) Header {
	_ = b[7]
	return Header{
		Version:       b[0],
		Type:          Type(b[1]),
		RequestID:     uint16(b[2])<<8 | uint16(b[3]),
		ContentLength: uint16(b[4])<<8 | uint16(b[5]),
		PaddingLength: b[6],
	}
}

// PutHeader encodes h into the first HeaderLen bytes of b.
func PutHeader(b []byte, h Header) {
	_ = b[7]
	b[0] = h.Version
	b[1] = byte(h.Type)
	b[2] = byte(h.RequestID >> 8)
	b[3] = byte(h.RequestID)
	b[4] = byte(h.ContentLength >> 8)
	b[5] = byte(h.ContentLength)
	b[6] = h.PaddingLength
	b[7] = 0
}

// PadLen returns the padding that aligns a record with n content bytes to 8.
func PadLen(n int) int {
	return -n & 7
}

// CheckID reports whether id is a valid request ID for a record of type t:
// 0 for management records, anything else for application records.
func CheckID(t Type, id uint16) error {
	if t.IsManagement() {
		if id != 0 {
			return fmt.Errorf("%w (%v with ID %d)", ErrNonZeroID, t, id)
		}
		return nil
	}
	if id == 0 {
		return fmt.Errorf("%w (%v)", ErrZeroID, t)
	}
	return nil
}
