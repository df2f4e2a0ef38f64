// Command soak is the front end's hostile-client soak: it builds
// httpfront and examples/fcgiapp, starts them on loopback (the front end
// with a low RLIMIT_NOFILE, a web root of known files, the app on its
// fd 0), and for a bounded time runs a seeded random mix of attackers
// (slow heads, long heads, pipelining with malformed requests, aborted
// uploads, invalid chunking, Range abuse, request smuggling shapes,
// uploads) with floods of connections past the descriptor limit in
// bursts, while checkers fetch known pages (static and app, fresh and
// kept connections) and check every byte. It prints the figures and
// exits 1 on a crash, a wrong byte, a desync, a checker failure outside
// the floods, memory over the bound or descriptors left behind.
//
//	go run ./bench/soak -duration 60s
//
// -only KIND[,KIND] runs some kinds alone, to reproduce what they find.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// boundMiB is the front end's peak resident memory (VmHWM) bound, the
// one httpfront's TestFloodMemory holds it to: the smallest appliance
// runs in 64 MiB of RAM, where the kernel and init take about 10 MiB and
// the app's pool at least one process (tuning's 16 MiB base estimate), so
// a front end above 40 MiB would push the pool into the OOM killer. (The
// pool's budget reserves only 16 MiB for the front end and the page
// cache; the soak reports how far above that the front end goes.)
const boundMiB = 40

func main() {
	cfg := defaultConfig()
	flag.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long the load runs")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the mix")
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "attackers at once")
	flag.IntVar(&cfg.FDLimit, "fds", cfg.FDLimit, "the front end's RLIMIT_NOFILE")
	flag.Int64Var(&cfg.BoundMiB, "bound", cfg.BoundMiB, "the front end's VmHWM bound, MiB")
	only := flag.String("only", "", "comma-separated kinds to run alone (slow-head, ..., flood)")
	flag.Parse()
	for name := range strings.SplitSeq(*only, ",") {
		if name == "" {
			continue
		}
		k := slices.Index(kindNames[:], name)
		if k < 0 {
			fmt.Fprintf(os.Stderr, "soak: no kind %q (%s)\n", name, strings.Join(kindNames[:], ", "))
			os.Exit(2)
		}
		cfg.Only = append(cfg.Only, kind(k))
	}
	res, err := Run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	res.WriteTable(os.Stdout)
	if p := res.Problems(); len(p) > 0 {
		for _, s := range p {
			fmt.Println("FAIL:", s)
		}
		os.Exit(1)
	}
	fmt.Println("PASS")
}

// defaultConfig is the soak's configuration but its duration.
func defaultConfig() Config {
	scale, err := strconv.ParseFloat(os.Getenv("MKIMAGE_TIMEOUT_SCALE"), 64)
	if err != nil || scale <= 0 {
		scale = 1
	}
	return Config{Seed: 1, Workers: 6, FDLimit: 256, BoundMiB: boundMiB,
		FloodEvery: 5 * time.Second, FloodHold: 1500 * time.Millisecond, Scale: scale}
}
