package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSoak runs the hostile-client soak for 20 s of load (waits scaled by
// MKIMAGE_TIMEOUT_SCALE, the load not): it fails on a crash, a wrong
// byte, a desync, a checker failure outside the floods, VmHWM over the
// bound, or descriptors or spooled bodies left behind. MKIMAGE_SOAK_SEED
// picks another mix.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the front end and loads it for 20 s")
	}
	cfg := defaultConfig()
	cfg.Duration = 20 * time.Second
	if s, err := strconv.ParseUint(os.Getenv("MKIMAGE_SOAK_SEED"), 10, 64); err == nil {
		cfg.Seed = s
	}
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	res.WriteTable(&table)
	t.Log("\n" + table.String())
	for _, p := range res.Problems() {
		t.Error(p)
	}
}

// TestJudge checks how checker failures are excused: only while a flood
// (and its grace) lasts, and a calm stretch needs a success.
func TestJudge(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	wins := []window{{at(2), at(3)}}
	fail := func(a, b float64) check { return check{start: at(a), end: at(b), err: os.ErrDeadlineExceeded} }
	okc := func(a, b float64) check { return check{start: at(a), end: at(b)} }
	v := judge([]check{okc(0.1, 0.2), fail(2.5, 2.6), fail(3.5, 3.6), okc(5, 5.1), fail(6, 6.1)}, wins, t0, at(8), time.Second)
	if v.ok != 2 || v.excused != 2 || v.failed != 1 || v.quietGaps != 0 || v.gaps != 2 {
		t.Errorf("judge: %+v", v)
	}
	v = judge([]check{okc(0.1, 0.2)}, wins, t0, at(8), time.Second)
	if v.quietGaps != 1 {
		t.Errorf("a calm stretch without a success passed: %+v", v)
	}
	w := check{start: at(2.5), end: at(2.6), err: os.ErrInvalid, wrong: true}
	if v = judge([]check{w}, wins, t0, at(3), time.Second); v.failed != 1 || v.wrong != 1 {
		t.Errorf("wrong bytes during a flood excused: %+v", v)
	}
}
