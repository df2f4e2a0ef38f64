package main

import (
	"net"
	"sync"
	"time"
)

// window is a time when a connection flood held the front end's
// descriptors.
type window struct{ start, end time.Time }

// bursts are the flood windows so far.
type bursts struct {
	mu  sync.Mutex
	win []window
}

func (b *bursts) add(w window) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.win = append(b.win, w)
}

func (b *bursts) all() []window {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]window(nil), b.win...)
}

// flood opens connections past the front end's descriptor limit in
// bursts: every FloodEvery, for FloodHold, then closes them all; between
// bursts the front end must serve everyone again.
func (r *run) flood() {
	for next := r.start.Add(r.cfg.FloodEvery / 2); next.Add(r.cfg.FloodHold).Before(r.end); next = next.Add(r.cfg.FloodEvery) {
		time.Sleep(time.Until(next))
		r.burst()
	}
}

// burst holds up to FDLimit+64 connections for FloodHold: a third idle, a
// third with half a head, a third with a request for the large file whose
// answer is never read.
func (r *run) burst() {
	ks := &r.st.kinds[kFlood]
	ks.attacks.Add(1)
	start := time.Now()
	hold := start.Add(r.cfg.FloodHold)
	var conns []net.Conn
	for i, fails := 0, 0; i < r.cfg.FDLimit+64 && fails < 16 && time.Now().Before(hold); i++ {
		c, err := net.DialTimeout("tcp", r.addr, 500*time.Millisecond)
		if err != nil {
			ks.dialErr.Add(1)
			fails++
			continue
		}
		ks.conns.Add(1)
		c.SetDeadline(r.hardEnd)
		switch i % 3 {
		case 1:
			c.Write([]byte("GET /small.txt HTTP/1.1\r\nHost: fl"))
			ks.requests.Add(1)
		case 2:
			c.Write([]byte(get(pathLarge)))
			ks.requests.Add(1)
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Until(hold))
	for i, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok && i%2 == 0 {
			tc.SetLinger(0)
		}
		c.Close()
	}
	ks.closed.Add(int64(len(conns)))
	r.bursts.add(window{start, time.Now()})
}
