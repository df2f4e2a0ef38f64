package record

import (
	"errors"
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []Header{
		{Version: 1, Type: TypeBeginRequest, RequestID: 1, ContentLength: 8},
		{Version: 1, Type: TypeStdout, RequestID: 65535, ContentLength: 65535, PaddingLength: 255},
		{Version: 1, Type: TypeGetValues},
	}
	for _, h := range tests {
		var b [HeaderLen]byte
		PutHeader(b[:], h)
		if got := ParseHeader(b[:]); got != h {
			t.Errorf("round trip of %+v gave %+v", h, got)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for ty := TypeBeginRequest; ty <= TypeUnknownType; ty++ {
		if strings.HasPrefix(ty.String(), "TYPE_") {
			t.Errorf("type %d has no name", ty)
		}
	}
	if got := Type(42).String(); got != "TYPE_42" {
		t.Errorf("Type(42) = %q", got)
	}
}

func TestCheckID(t *testing.T) {
	tests := []struct {
		t    Type
		id   uint16
		want error
	}{
		{TypeBeginRequest, 0, ErrZeroID},
		{TypeStdin, 0, ErrZeroID},
		{TypeStdout, 3, nil},
		{TypeGetValues, 0, nil},
		{TypeGetValuesResult, 1, ErrNonZeroID},
		{TypeUnknownType, 0, nil},
	}
	for _, tt := range tests {
		if err := CheckID(tt.t, tt.id); !errors.Is(err, tt.want) {
			t.Errorf("CheckID(%v, %d) = %v, want %v", tt.t, tt.id, err, tt.want)
		}
	}
}

func TestPadLen(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 7, 7: 1, 8: 0, 9: 7, 65535: 1} {
		if got := PadLen(n); got != want {
			t.Errorf("PadLen(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestAppendRecordAligned(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 100, 65535} {
		b := AppendRecord(nil, TypeStdout, 1, make([]byte, n))
		if len(b)%8 != 0 {
			t.Errorf("record with %d content bytes is %d bytes long", n, len(b))
		}
		h := ParseHeader(b)
		if int(h.ContentLength) != n || int(h.PaddingLength) != PadLen(n) {
			t.Errorf("header %+v for %d bytes", h, n)
		}
	}
}

func TestBodies(t *testing.T) {
	b := AppendBeginRequest(nil, 7, RoleFilter, FlagKeepConn)
	br, err := ParseBeginRequest(b[HeaderLen:])
	if err != nil || br.Role != RoleFilter || !br.KeepConn() {
		t.Errorf("begin request = %+v, %v", br, err)
	}
	b = AppendEndRequest(nil, 7, 0xdeadbeef, StatusOverloaded)
	er, err := ParseEndRequest(b[HeaderLen:])
	if err != nil || er.AppStatus != 0xdeadbeef || er.ProtocolStatus != StatusOverloaded {
		t.Errorf("end request = %+v, %v", er, err)
	}
	b = AppendUnknownType(nil, Type(200))
	ut, err := ParseUnknownType(b[HeaderLen:])
	if err != nil || ut != 200 {
		t.Errorf("unknown type = %v, %v", ut, err)
	}
	for _, f := range []func([]byte) error{
		func(c []byte) error { _, err := ParseBeginRequest(c); return err },
		func(c []byte) error { _, err := ParseEndRequest(c); return err },
		func(c []byte) error { _, err := ParseUnknownType(c); return err },
	} {
		if err := f(make([]byte, 7)); !errors.Is(err, ErrShortBody) {
			t.Errorf("short body error = %v", err)
		}
	}
}
