package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// site is what the web root and the app serve: the bytes every answer is
// checked against.
type site struct {
	files map[string][]byte // URL path -> content of a static file
	// marker is the content of /smuggled.txt, which is asked for only
	// inside framing that must hide it (a body, a rejected request): an
	// answer holding it means the front end read a request the client
	// never sent as one.
	marker []byte
}

// static paths of the web root.
const (
	pathIndex    = "/index.html"
	pathSmall    = "/small.txt"
	pathLarge    = "/1m.bin"
	pathSmuggled = "/smuggled.txt"
	appPrefix    = "/app"
)

// newSite makes the web root's files from seed and writes them under root.
func newSite(root string, seed uint64) (*site, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	s := &site{files: map[string][]byte{
		pathIndex: []byte("<!doctype html><title>soak</title><h1>soak index</h1>\n"),
		pathSmall: randomBytes(rng, 1024),
		pathLarge: randomBytes(rng, 1<<20),
	}}
	s.marker = fmt.Appendf(nil, "SMUGGLED-%016x-%016x\n", rng.Uint64(), rng.Uint64())
	all := map[string][]byte{pathSmuggled: s.marker}
	for p, b := range s.files {
		all[p] = b
	}
	for p, b := range all {
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			return nil, fmt.Errorf("writing the web root: %w", err)
		}
	}
	return s, nil
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// bigBody is what the app's /big?n=N streams.
func bigBody(n int) []byte {
	return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
}

// echoAnswer is what the app's /echo answers to a non-form POST of body.
func echoAnswer(body []byte) []byte {
	return fmt.Appendf(nil, "received %d bytes sha256=%x\n", len(body), sha256.Sum256(body))
}

// expectFile is the expectation for method on a static path (GET, HEAD).
func (s *site) expectFile(method, path string) expect {
	want, ok := s.files[path]
	if path == "/" {
		want, ok = s.files[pathIndex], true
	}
	return expect{method: method, target: path, want: want, file: want, missing: !ok}
}

// expectApp is the expectation for GET target on the app (/app/hello,
// /app/big?n=N).
func expectApp(target string) expect {
	e := expect{method: "GET", target: target}
	switch rest := strings.TrimPrefix(target, appPrefix); {
	case rest == "/hello":
		e.want = []byte("hello\n")
	case strings.HasPrefix(rest, "/big?n="):
		n, _ := strconv.Atoi(strings.TrimPrefix(rest, "/big?n="))
		e.want = bigBody(n)
	}
	return e
}

// expectEcho is the expectation for a POST of body to the app's /echo.
func expectEcho(body []byte) expect {
	return expect{method: "POST", target: appPrefix + "/echo", want: echoAnswer(body)}
}
