package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// maxBody bounds what one answer's body is read into memory.
const maxBody = 4 << 20

// conn is an attacker's raw connection to the front end.
type conn struct {
	net.Conn
	br *bufio.Reader
}

// dial opens a connection for kind k with the given lifetime (cut at the
// run's hard end); a failure is counted.
func (r *run) dial(k kind, life time.Duration) (*conn, error) {
	c, err := net.DialTimeout("tcp", r.addr, r.wait(2*time.Second))
	if err != nil {
		r.st.kinds[k].dialErr.Add(1)
		return nil, fmt.Errorf("dialing %s: %w", r.addr, err)
	}
	r.st.kinds[k].conns.Add(1)
	deadline := time.Now().Add(life)
	if deadline.After(r.hardEnd) {
		deadline = r.hardEnd
	}
	c.SetDeadline(deadline)
	return &conn{Conn: c, br: bufio.NewReaderSize(c, 64<<10)}, nil
}

// readAnswer reads one answer to a request of method, skipping 1xx, with
// its whole body (at most maxBody).
func (c *conn) readAnswer(method string) (*http.Response, []byte, error) {
	for {
		resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
		if err != nil {
			return nil, nil, fmt.Errorf("reading an answer: %w", err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("reading a %s body: %w", resp.Status, err)
		}
		return resp, body, nil
	}
}

// exchange sends reqs on a new connection (in random fragments, while it
// reads) and checks the answers against exps in order. An answer after
// the last one expected is wrong: the front end read a request the client
// did not send as one. with, when set, runs after the bytes are written
// (a half close, a pause).
func (r *run) exchange(k kind, rng *rand.Rand, reqs []byte, exps []expect, with func(*conn)) {
	c, err := r.dial(k, r.wait(10*time.Second))
	if err != nil {
		return
	}
	defer c.Close()
	r.st.kinds[k].requests.Add(int64(len(exps)))
	pieces := fragments(rng, reqs)
	go func() {
		for _, p := range pieces {
			if _, err := c.Write(p); err != nil {
				return
			}
		}
		if with != nil {
			with(c)
		}
	}()
	for _, e := range exps {
		resp, body, err := c.readAnswer(e.method)
		if err != nil {
			r.st.kinds[k].closed.Add(1)
			return
		}
		out, err := r.site.check(e, resp, body)
		r.st.record(k, out, err, reqs)
	}
	r.unasked(k, c, reqs)
}

// unasked counts an answer arriving after every request was answered.
func (r *run) unasked(k kind, c *conn, reqs []byte) {
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	resp, body, err := c.readAnswer("GET")
	if err != nil {
		return
	}
	out, err := r.site.check(expect{method: "?", target: "(nothing)", noSuccess: true}, resp, body)
	if out != outDesync {
		out, err = outWrong, fmt.Errorf("an answer nobody asked for: %s %s", resp.Status, abbrev(body))
	}
	r.st.record(k, out, err, reqs)
}

// fragments cuts b into 1 to 4 pieces at random places.
func fragments(rng *rand.Rand, b []byte) [][]byte {
	var out [][]byte
	for n := rng.IntN(4); n > 0 && len(b) > 1; n-- {
		i := 1 + rng.IntN(len(b)-1)
		out, b = append(out, b[:i]), b[i:]
	}
	return append(out, b)
}
