package python

import (
	"encoding/binary"
	"io"
	"math/rand"
	"net"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// rawRecord builds a record with any header fields, valid or not.
func rawRecord(version uint8, t record.Type, id uint16, content []byte, declared int) []byte {
	h := []byte{version, byte(t), byte(id >> 8), byte(id), byte(declared >> 8), byte(declared), 0, 0}
	return append(h, content...)
}

// hugePair is a name-value pair whose lengths claim 2 GiB.
func hugePair() []byte {
	b := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	b = binary.BigEndian.AppendUint32(b, 0x80000010)
	return append(b, "short"...)
}

func begin1() []byte { return record.AppendBeginRequest(nil, 1, record.RoleResponder, 0) }

// TestHostile feeds broken record streams, each on its own connection, and
// checks the server answers the next connection every time; the refusals
// it owes a well-framed but bad request are checked too.
func TestHostile(t *testing.T) {
	s := startServer(t)
	alive := func(what string) {
		t.Helper()
		if r := roundTrip(t, s.sock, params("GET", "/hello"), []byte{}); r.body() != "hello\n" {
			t.Fatalf("after %s: %q\nlog:\n%s", what, r.body(), s.logText())
		}
	}
	cat := func(parts ...[]byte) []byte {
		return []byte(strings.Join(func() []string {
			var ss []string
			for _, p := range parts {
				ss = append(ss, string(p))
			}
			return ss
		}(), ""))
	}
	streams := map[string][]byte{
		"HTTP instead of FastCGI": []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"version 2":               rawRecord(2, record.TypeBeginRequest, 1, make([]byte, 8), 8),
		"truncated record":        rawRecord(1, record.TypeStdin, 1, []byte("0123456789"), 65535),
		"short BEGIN_REQUEST":     rawRecord(1, record.TypeBeginRequest, 1, []byte{0, 1}, 2),
		"records without BEGIN": cat(record.AppendRecord(nil, record.TypeStdin, 7, []byte("x")),
			record.AppendEndRequest(nil, 7, 0, 0), record.AppendRecord(nil, record.TypeStdout, 7, []byte("y"))),
		"BEGIN_REQUEST with id 0": rawRecord(1, record.TypeBeginRequest, 0, []byte{0, 1, 0, 0, 0, 0, 0, 0}, 8),
		"bad GET_VALUES":          rawRecord(1, record.TypeGetValues, 0, []byte{0xff, 0xff, 0xff}, 3),
		"PARAMS then hang-up":     cat(begin1(), record.AppendRecord(nil, record.TypeParams, 1, []byte{3, 3, 'a'})),
	}
	for name, data := range streams {
		c := dial(t, s.sock)
		c.Write(data)
		c.Close()
		alive(name)
	}

	ask := func(what string, data []byte, wantStatus string, ps record.ProtocolStatus) {
		t.Helper()
		c := dial(t, s.sock)
		c.Write(data)
		r := &reply{}
		if err := readUntil(t, record.NewReader(c), 1, r, nil); err != nil || r.end.ProtocolStatus != ps || r.status() != wantStatus {
			t.Errorf("%s: %q, END %+v, %v", what, r.status(), r.end, err)
		}
		alive(what)
	}
	ask("param lengths of 2 GiB", cat(begin1(), record.AppendRecord(nil, record.TypeParams, 1, hugePair()),
		record.AppendRecord(nil, record.TypeParams, 1, nil)), "400 Bad Request", record.StatusRequestComplete)
	big := record.AppendPair(nil, "HTTP_X_BIG", strings.Repeat("b", 2<<20))
	ask("2 MiB of PARAMS", cat(begin1(), record.AppendStream(nil, record.TypeParams, 1, big)),
		"431 Request Header Fields Too Large", record.StatusRequestComplete)
	ask("authorizer role", record.AppendBeginRequest(nil, 1, record.RoleAuthorizer, 0), "", record.StatusUnknownRole)

	// A web server that goes away in the middle of a long response.
	c := dial(t, s.sock)
	begin(t, c, 1, 0, params("GET", "/big?n=1073741824"), []byte{})
	if _, err := io.ReadFull(c, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	alive("a hang-up mid-response")

	// Random record streams: random types, ids, lengths and contents,
	// half of them after a valid BEGIN_REQUEST.
	rng := rand.New(rand.NewSource(15))
	for i := range 300 {
		var b []byte
		if i%2 == 0 {
			b = begin1()
		}
		for range 1 + rng.Intn(8) {
			content := make([]byte, rng.Intn(300))
			rng.Read(content)
			t, id := record.Type(rng.Intn(13)), uint16(rng.Intn(3))
			if rng.Intn(4) == 0 {
				b = append(b, rawRecord(1, t, id, content, rng.Intn(1<<16))...)
			} else {
				b = record.AppendRecord(b, t, id, content)
			}
		}
		nc, err := net.Dial("unix", s.sock)
		if err != nil {
			t.Fatalf("stream %d: %v\nlog:\n%s", i, err, s.logText())
		}
		nc.Write(b)
		nc.Close()
		if i%50 == 49 {
			alive("random streams")
		}
	}
	if strings.Contains(s.logText(), "Traceback") {
		t.Errorf("the server logged a traceback:\n%s", s.logText())
	}
}
