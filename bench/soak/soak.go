package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mkimage/mkimage/httpfront/fcgiclient"
	"github.com/mkimage/mkimage/spec"
)

// Config is one soak run.
type Config struct {
	Duration   time.Duration // how long the load runs
	Seed       uint64        // the mix, the files and the bodies
	Workers    int           // attackers at once (besides the flood)
	FDLimit    int           // the front end's RLIMIT_NOFILE
	BoundMiB   int64         // the front end's VmHWM bound
	FloodEvery time.Duration // a flood burst starts this often
	FloodHold  time.Duration // and holds this long
	Scale      float64       // MKIMAGE_TIMEOUT_SCALE: waits only, not load
	// Only, when not empty, restricts the mix to these kinds (a flood
	// runs only when named): to reproduce what one kind finds.
	Only []kind
}

// runs reports whether kind k is in the mix.
func (c Config) runs(k kind) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, k)
}

// run is the state of one soak.
type run struct {
	cfg        Config
	addr       string
	port       int
	site       *site
	st         stats
	bursts     bursts
	maxHeader  int
	start, end time.Time // the load
	hardEnd    time.Time // every connection's last moment
}

// wait scales a wait (never the load) by MKIMAGE_TIMEOUT_SCALE.
func (r *run) wait(d time.Duration) time.Duration {
	return time.Duration(float64(d) * max(r.cfg.Scale, 1))
}

// defaultMaxHeader is the front end's default max_header_bytes.
const defaultMaxHeader = 16 << 10

// Run builds and starts the front end and the app, runs the load and
// returns what was measured; an error means the soak itself could not run.
func Run(cfg Config) (*Result, error) {
	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		return nil, fmt.Errorf("making the work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	frontBin, appBin, err := build(dir)
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, maxHeader: defaultMaxHeader}
	www, spool := filepath.Join(dir, "www"), filepath.Join(dir, "spool")
	for _, d := range []string{www, spool} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("making %s: %w", d, err)
		}
	}
	if r.site, err = newSite(www, cfg.Seed); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "app.sock")
	app, err := startApp(appBin, sock)
	if err != nil {
		return nil, err
	}
	defer app.stop()
	if r.addr, err = freeAddr(); err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(r.addr)
	r.port, _ = strconv.Atoi(port)
	fcfg := spec.Front{Root: www, TempDir: spool,
		Apps: []spec.App{{Name: "app", Prefix: appPrefix, Backends: []string{"unix:" + sock}}}}
	front, err := startFront(frontBin, dir, r.addr, fcfg, cfg.FDLimit)
	if err != nil {
		return nil, err
	}
	defer front.stop()
	for _, p := range []string{pathIndex, appPrefix + "/hello"} {
		if err := waitServing("http://"+r.addr+p, r.wait(10*time.Second), front); err != nil {
			return nil, err
		}
	}
	return r.soak(front, app, spool)
}

// soak measures a baseline, runs the load and measures again.
func (r *run) soak(front, app *proc, spool string) (*Result, error) {
	pid := front.cmd.Process.Pid
	res := &Result{Config: r.cfg, PID: pid}
	var err error
	if res.FDLimit, err = fdLimitOf(pid); err != nil {
		return nil, err
	}
	res.WarmErrs = r.fetchAll(rand.New(rand.NewPCG(r.cfg.Seed, 1))) // warms the caches
	if res.FDsBefore, _, err = r.settledFDs(pid, fds{other: 1 << 30}); err != nil {
		return nil, err
	}
	if res.MemBefore, err = readMemory(pid); err != nil {
		return nil, err
	}
	r.start = time.Now()
	r.end = r.start.Add(r.cfg.Duration)
	r.hardEnd = r.end.Add(r.wait(15 * time.Second))
	var smp sampler
	stop := make(chan struct{})
	go smp.run(pid, r.port, 100*time.Millisecond, stop)
	res.Keep, res.Fresh = r.load()
	close(stop)
	res.Start, res.Elapsed = r.start, time.Since(r.start)
	res.Bursts = r.bursts.all()
	res.Alive, res.AppAlive = front.alive(), app.alive()
	res.PeakRSS, res.PeakFDs = smp.peakRSS, smp.peakFDs
	if !res.Alive {
		res.Exit = fmt.Sprint(front.state)
		res.ErrTail = front.lastErr()
		return res, nil
	}
	if res.MemAfter, err = readMemory(pid); err != nil {
		return nil, err
	}
	res.FDsAfter, res.Settle, _ = r.settledFDs(pid, res.FDsBefore)
	if ents, err := os.ReadDir(spool); err == nil {
		res.SpoolLeft = len(ents)
	}
	res.FinalErrs = r.fetchAll(rand.New(rand.NewPCG(r.cfg.Seed, 2)))
	res.Alive = front.alive()
	res.Stats = r.st.snapshot()
	r.st.mu.Lock()
	res.Samples = append([]string(nil), r.st.samples...)
	r.st.mu.Unlock()
	front.logMu.Lock()
	res.LogLines, res.LogBytes, res.LogLongest, res.ErrLines = front.outLines, front.outBytes, front.longest, front.errN
	front.logMu.Unlock()
	res.ErrTail = front.lastErr()
	return res, nil
}

// load runs the attackers, the flood and the checkers until the end and
// returns the checkers' results (keep-alive, fresh connections).
func (r *run) load() (keep, fresh []check) {
	var wg sync.WaitGroup
	if r.cfg.runs(kFlood) {
		wg.Go(r.flood)
	}
	wg.Go(func() { keep = r.checker(true, rand.New(rand.NewPCG(r.cfg.Seed, 3)), 10*time.Millisecond) })
	wg.Go(func() { fresh = r.checker(false, rand.New(rand.NewPCG(r.cfg.Seed, 4)), 10*time.Millisecond) })
	workers := 0
	if slices.ContainsFunc(mix, func(m weighted) bool { return r.cfg.runs(m.k) }) {
		workers = r.cfg.Workers
	}
	for i := range workers {
		rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(100+i)))
		wg.Go(func() { r.attacker(rng) })
	}
	wg.Wait()
	return keep, fresh
}

type weighted struct {
	k      kind
	weight int
}

// mix is the attackers' menu, with weights.
var mix = []weighted{
	{kSlowHead, 1}, {kLongHead, 3}, {kPipeline, 3}, {kAborted, 2},
	{kBadChunk, 3}, {kRange, 3}, {kSmuggle, 3}, {kUpload, 1},
}

// attacker runs random attacks until the load stops.
func (r *run) attacker(rng *rand.Rand) {
	total := 0
	for _, m := range mix {
		if r.cfg.runs(m.k) {
			total += m.weight
		}
	}
	for time.Now().Before(r.end) {
		n := rng.IntN(total)
		k := mix[0].k
		for _, m := range mix {
			if !r.cfg.runs(m.k) {
				continue
			}
			if n -= m.weight; n < 0 {
				k = m.k
				break
			}
		}
		r.st.kinds[k].attacks.Add(1)
		r.attack(k, rng)
	}
}

func (r *run) attack(k kind, rng *rand.Rand) {
	switch k {
	case kSlowHead:
		r.slowHead(rng)
	case kLongHead:
		r.longHead(rng)
	case kPipeline:
		r.pipeline(rng)
	case kAborted:
		r.aborted(rng)
	case kBadChunk:
		r.badChunking(rng)
	case kRange:
		r.rangeAbuse(rng)
	case kSmuggle:
		r.smuggle(rng)
	case kUpload:
		r.upload(rng)
	}
}

// fetchAll fetches every known page once over a fresh connection and
// once over a kept one; it returns the failures.
func (r *run) fetchAll(rng *rand.Rand) []string {
	var errs []string
	for _, keep := range []bool{false, true} {
		cl := r.newClient(keep)
		for _, p := range r.pages(rng) {
			if c := r.fetch(cl, p); c.err != nil {
				errs = append(errs, c.err.Error())
			}
		}
		cl.CloseIdleConnections()
	}
	return errs
}

// maxIdleBackend is how many idle connections the front end keeps to a
// backend (fcgiclient.DefaultMaxIdle).
const maxIdleBackend = fcgiclient.DefaultMaxIdle

// settleFor is how long after the load the front end may take to close
// what the clients left: every client has closed by then, so it only has
// to notice.
const settleFor = 15 * time.Second

// settledFDs waits until the front end has no client connection left, at
// most maxIdleBackend connections to the app and no more other
// descriptors than base (plus 1: a large file's), or until the longest
// timeout a stuck request could be held for (the FastCGI response
// timeout, 60 s) has passed; it returns the last count and how long it
// took.
func (r *run) settledFDs(pid int, base fds) (fds, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(r.wait(settleFor + 60*time.Second))
	for {
		f, err := readFDs(pid, r.port)
		if err != nil || f.leakFree(base) || time.Now().After(deadline) {
			return f, time.Since(start), err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leakFree reports whether f is back to base: no client connection, the
// app's connections within the idle pool, other descriptors within one
// of base's.
func (f fds) leakFree(base fds) bool {
	return f.clients == 0 && f.backends <= maxIdleBackend && f.other <= base.other+1
}
