package initsvc

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestFirstOffset(t *testing.T) {
	answers := map[string]time.Duration{"b": 2 * time.Second, "c": 3 * time.Second}
	query := func(s string) (time.Duration, error) {
		if d, ok := answers[s]; ok {
			return d, nil
		}
		return 0, errors.New("timeout")
	}
	if s, d, err := firstOffset([]string{"a", "b", "c"}, query); s != "b" || d != 2*time.Second || err != nil {
		t.Errorf("got %s %v %v", s, d, err)
	}
	if _, _, err := firstOffset([]string{"a", "x"}, query); err == nil || !strings.Contains(err.Error(), "a: timeout") || !strings.Contains(err.Error(), "x: timeout") {
		t.Errorf("all failing: %v", err)
	}
}

// fakeNTP answers NTP requests with a clock running ahead by skew.
func fakeNTP(t *testing.T, skew time.Duration) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 48)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil || n < 48 {
				return
			}
			resp := make([]byte, 48)
			resp[0] = 0<<6 | 4<<3 | 4 // no leap, version 4, server
			resp[1] = 2               // stratum
			copy(resp[12:16], "LOCL")
			copy(resp[24:32], buf[40:48]) // origin = client's transmit
			now := ntpTime(time.Now().Add(skew))
			binary.BigEndian.PutUint64(resp[16:], now) // reference
			binary.BigEndian.PutUint64(resp[32:], now) // receive
			binary.BigEndian.PutUint64(resp[40:], now) // transmit
			_, _ = pc.WriteTo(resp, addr)
		}
	}()
	return pc.LocalAddr().String()
}

func ntpTime(t time.Time) uint64 {
	const epoch = 2208988800 // 1900 to 1970
	secs := uint64(t.Unix() + epoch)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

func TestQueryNTP(t *testing.T) {
	addr := fakeNTP(t, 90*time.Second)
	off, err := queryNTP(addr)
	if err != nil {
		t.Fatal(err)
	}
	if off < 89*time.Second || off > 91*time.Second {
		t.Errorf("offset %v, want about 90 s", off)
	}
}
