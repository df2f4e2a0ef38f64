// Package rollout updates many machines the careful way: one canary
// first, alone; once it succeeded, the rest in order with at most
// Parallel at a time; the first failure stops the rollout. Targets not yet
// started then never start, and those in flight are waited for, so that
// every machine ends either updated, failed (and, for an appliance, back
// on its old version by itself) or untouched.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Rollout is a checked plan: the canary, then the rest.
type Rollout struct {
	Canary   string
	Rest     []string
	Parallel int
}

// Plan checks the targets (at least one, none empty or named twice) and
// the parallelism (at least 1) and returns the rollout; the first target
// is the canary.
func Plan(targets []string, parallel int) (*Rollout, error) {
	if len(targets) == 0 {
		return nil, errors.New("no targets")
	}
	if parallel < 1 {
		return nil, fmt.Errorf("parallelism %d: want at least 1", parallel)
	}
	seen := map[string]bool{}
	for _, t := range targets {
		switch {
		case strings.TrimSpace(t) == "":
			return nil, errors.New("an empty target")
		case seen[t]:
			return nil, fmt.Errorf("target %s is named twice", t)
		}
		seen[t] = true
	}
	return &Rollout{Canary: targets[0], Rest: targets[1:], Parallel: parallel}, nil
}

// Targets returns all targets in order, the canary first.
func (r *Rollout) Targets() []string {
	return append([]string{r.Canary}, r.Rest...)
}

// String says the plan in words.
func (r *Rollout) String() string {
	if len(r.Rest) == 0 {
		return "one target: " + r.Canary
	}
	return fmt.Sprintf("%d targets: the canary %s alone, then %d more, up to %d at a time; the first failure stops the rollout",
		len(r.Rest)+1, r.Canary, len(r.Rest), min(r.Parallel, len(r.Rest)))
}

// Func does one target's work; it runs with Run's context, which a
// failure elsewhere does not cancel.
type Func func(ctx context.Context, target string) error

// Result is what became of one target.
type Result struct {
	Target string
	// Started is false for a target the rollout never touched.
	Started bool
	// Err is the target's failure (nil: done, or never started).
	Err  error
	Took time.Duration
}

// OK reports whether the target was done without error.
func (r Result) OK() bool { return r.Started && r.Err == nil }

// Run runs fn on the canary, then, if it succeeded, on the rest in order,
// at most Parallel at a time. After the first failure (or when ctx ends)
// no further target starts; Run returns once the targets in flight are
// done. The results are in the targets' order.
func (r *Rollout) Run(ctx context.Context, fn Func) []Result {
	targets := r.Targets()
	res := make([]Result, len(targets))
	for i, t := range targets {
		res[i].Target = t
	}
	one := func(i int) bool {
		start := time.Now()
		err := fn(ctx, targets[i])
		res[i].Started, res[i].Err, res[i].Took = true, err, time.Since(start)
		return err == nil
	}
	if ctx.Err() != nil || !one(0) {
		return res
	}
	var (
		mu      sync.Mutex
		stopped bool
		wg      sync.WaitGroup
	)
	slots := make(chan struct{}, r.Parallel)
	for i := 1; i < len(targets); i++ {
		slots <- struct{}{} // a free slot: one in flight fewer than Parallel
		mu.Lock()
		stop := stopped || ctx.Err() != nil
		mu.Unlock()
		if stop {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := one(i)
			// Mark the stop before freeing the slot: the loop, woken
			// by it, must see the failure.
			mu.Lock()
			stopped = stopped || !ok
			mu.Unlock()
			<-slots
		}()
	}
	wg.Wait()
	return res
}

// Failed returns the results of the targets that failed.
func Failed(res []Result) []Result {
	var f []Result
	for _, r := range res {
		if r.Started && r.Err != nil {
			f = append(f, r)
		}
	}
	return f
}
