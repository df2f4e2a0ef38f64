package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// kindCounts are one kind's counters at the end.
type kindCounts struct {
	attacks, conns, requests, ok, rejected, serverErr, closed, dialErr, wrong, desync int64
}

// Result is what one soak measured.
type Result struct {
	Config
	PID                 int
	FDLimit             string    // the front end's, from /proc/PID/limits
	Start               time.Time // of the load
	Elapsed             time.Duration
	Stats               [numKinds]kindCounts
	Samples             []string // wrong answers and the bytes that caused them
	Keep, Fresh         []check  // the checkers' results
	Bursts              []window
	Alive, AppAlive     bool
	Exit, ErrTail       string
	MemBefore, MemAfter memory
	PeakRSS             int64 // KiB, sampled
	FDsBefore, FDsAfter fds
	PeakFDs             int
	Settle              time.Duration // until the descriptors were back
	SpoolLeft           int
	WarmErrs, FinalErrs []string
	LogLines, LogBytes  int64
	LogLongest          int64
	ErrLines            int64
}

func (st *stats) snapshot() [numKinds]kindCounts {
	var out [numKinds]kindCounts
	for i := range st.kinds {
		k := &st.kinds[i]
		out[i] = kindCounts{k.attacks.Load(), k.conns.Load(), k.requests.Load(), k.ok.Load(),
			k.rejected.Load(), k.serverErr.Load(), k.closed.Load(), k.dialErr.Load(), k.wrong.Load(), k.desync.Load()}
	}
	return out
}

// grace is how long after a flood a checker failure is still the flood's:
// the front end's accept backoff reaches 1 s.
func (res *Result) grace() time.Duration {
	return time.Duration(float64(2*time.Second) * max(res.Scale, 1))
}

// verdict judges the checkers' results against the flood windows.
func (res *Result) verdict() verdict {
	all := append(append([]check(nil), res.Keep...), res.Fresh...)
	return judge(all, res.Bursts, res.Start, res.Start.Add(res.Duration), res.grace())
}

// Problems lists what fails the soak: a crash, a wrong byte, a desync, a
// checker failure outside the floods, memory over the bound, descriptors
// or spool files left behind.
func (res *Result) Problems() []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if !res.Alive {
		add("the front end (pid %d) exited: %s; its last words:\n%s", res.PID, res.Exit, res.ErrTail)
		return p
	}
	if !res.AppAlive {
		add("the app exited")
	}
	var wrong, desync int64
	for _, k := range res.Stats {
		wrong, desync = wrong+k.wrong, desync+k.desync
	}
	if wrong+desync > 0 {
		add("%d wrong answers, %d desyncs:\n  %s", wrong, desync, strings.Join(res.Samples, "\n  "))
	}
	v := res.verdict()
	if v.failed > 0 {
		add("checker: %d failures outside the floods (%d wrong):\n  %s", v.failed, v.wrong, strings.Join(v.calmFailures, "\n  "))
	}
	if v.quietGaps > 0 {
		add("checker: no success in %d of %d calm stretches between floods", v.quietGaps, v.gaps)
	}
	if hwm := max(res.MemAfter.hwm, res.PeakRSS); hwm > res.BoundMiB<<10 {
		add("peak RSS %d KiB, over the bound of %d MiB", hwm, res.BoundMiB)
	}
	switch settle := time.Duration(float64(settleFor) * max(res.Scale, 1)); {
	case !res.FDsAfter.leakFree(res.FDsBefore):
		add("descriptors left %v after the load: %+v, before it %+v", res.Settle.Round(time.Second), res.FDsAfter, res.FDsBefore)
	case res.Settle > settle:
		add("descriptors held %v after the clients left (bound %v): before it %+v", res.Settle.Round(time.Second), settle, res.FDsBefore)
	}
	if res.SpoolLeft > 0 {
		add("%d spooled bodies left in temp_dir", res.SpoolLeft)
	}
	for _, e := range res.WarmErrs {
		add("before the soak: %s", e)
	}
	for _, e := range res.FinalErrs {
		add("after the soak: %s", e)
	}
	return p
}

// WriteTable prints the figures.
func (res *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "soak: %v of load (seed %d, %d attackers, front end pid %d, RLIMIT_NOFILE %s), %d flood bursts of %v every %v\n",
		res.Duration, res.Seed, res.Workers, res.PID, res.FDLimit, len(res.Bursts), res.FloodHold, res.FloodEvery)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tattacks\tconns\trequests\tok\t4xx\t5xx\tno answer\tdial failed\twrong\tdesync\t")
	for i, k := range res.Stats {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", kind(i), k.attacks, k.conns, k.requests,
			k.ok, k.rejected, k.serverErr, k.closed, k.dialErr, k.wrong, k.desync)
	}
	tw.Flush()
	v := res.verdict()
	fmt.Fprintf(w, "checker: %d ok, %d failed during floods (excused), %d failed outside them, %d wrong; %d of %d calm stretches without a success\n",
		v.ok, v.excused, v.failed, v.wrong, v.quietGaps, v.gaps)
	fmt.Fprintf(w, "front end: alive %v (same pid %d), app alive %v; VmRSS %d KiB before, %d after, sampled peak %d; VmHWM %d KiB (bound %d MiB)\n",
		res.Alive, res.PID, res.AppAlive, res.MemBefore.rss, res.MemAfter.rss, res.PeakRSS, res.MemAfter.hwm, res.BoundMiB)
	fmt.Fprintf(w, "descriptors: before %+v, peak %d, after %+v (%v after the load); spool files left %d\n",
		res.FDsBefore, res.PeakFDs, res.FDsAfter, res.Settle.Round(100*time.Millisecond), res.SpoolLeft)
	fmt.Fprintf(w, "logs: access log %d lines, %d bytes, longest line %d bytes; %d lines on stderr\n",
		res.LogLines, res.LogBytes, res.LogLongest, res.ErrLines)
}
