package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mkimage/mkimage/internal/rollout"
	"github.com/mkimage/mkimage/internal/updateclient"
	"github.com/mkimage/mkimage/spec"
)

// statusTimeout bounds one status question during a rollout or a fleet's
// --status, so that a machine that is gone does not hold up the others.
const statusTimeout = 15 * time.Second

// rollout sends the bundle at path to several appliances: the canary
// alone, then the rest a.parallel at a time, each waited for until it
// committed; the first failed trial or refusal stops the rollout. Every
// line is led by its target; a table ends it. It fails unless all
// committed.
func (a *updateArgs) rollout(ctx context.Context, out io.Writer, path string, port int, poll time.Duration) error {
	plan, err := rollout.Plan(a.targets, a.parallel)
	if err != nil {
		return err
	}
	if err := sameAppliance(a.targets, port); err != nil {
		return err
	}
	width := 0
	for _, t := range a.targets {
		width = max(width, len(t))
	}
	prefix := func(t string) string { return fmt.Sprintf("%-*s  ", width, t) }
	var mu sync.Mutex // one line at a time on out
	fmt.Fprintf(out, "rollout  %s\n", plan)
	now := make(map[string]string) // the version each target runs, as last seen
	res := plan.Run(ctx, func(ctx context.Context, to string) error {
		w := &lineWriter{mu: &mu, w: out, prefix: prefix(to)}
		defer w.flush()
		start := time.Now()
		st, err := a.sendTo(ctx, w, to, path, port, poll, nil)
		if st.Version == "" {
			st = quickStatus(ctx, to, port)
		}
		mu.Lock()
		now[to] = st.Version
		mu.Unlock()
		if err != nil {
			back := ""
			if rb := (*updateclient.RolledBackError)(nil); errors.As(err, &rb) {
				back = ", back on version " + rb.Running
			}
			fmt.Fprintf(w, "%s (after %.1f s%s)\n", outcome(err), time.Since(start).Seconds(), back)
		}
		return err
	})
	var failed, untouched []string
	for _, r := range res {
		switch {
		case !r.Started:
			untouched = append(untouched, r.Target)
		case r.Err != nil:
			failed = append(failed, r.Target)
		}
	}
	why := "the rollout stopped at " + strings.Join(failed, ", ")
	if len(failed) == 0 {
		why = "interrupted"
	}
	for _, t := range untouched {
		fmt.Fprintf(out, "%snot updated: %s\n", prefix(t), why)
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tRESULT\tVERSION NOW")
	for _, r := range res {
		result := "not updated"
		switch {
		case r.OK():
			result = fmt.Sprintf("committed after %.1f s", r.Took.Seconds())
		case r.Started:
			result = outcome(r.Err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Target, result, orDash(now[r.Target]))
	}
	tw.Flush()
	if len(failed) == 0 && len(untouched) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d of %d committed, %d failed, %d not updated",
		why, len(res)-len(failed)-len(untouched), len(res), len(failed), len(untouched))
}

// sameAppliance refuses two names for one appliance, which would be
// updated twice; port is for targets that name none (0: only those that
// name the same port are compared).
func sameAppliance(targets []string, port int) error {
	seen := map[string]string{}
	for _, t := range targets {
		base, err := updateclient.BaseURL(t, port)
		if err != nil {
			return err
		}
		if other, ok := seen[base]; ok && (port != 0 || !strings.HasSuffix(base, ":0")) {
			return fmt.Errorf("%s and %s are the same appliance (%s)", other, t, base)
		}
		seen[base] = t
	}
	return nil
}

// outcome is a target's failure in a few words: rolled back or refused
// with the appliance's reason, or failed.
func outcome(err error) string {
	var rb *updateclient.RolledBackError
	var ans *updateclient.AnswerError
	switch {
	case errors.As(err, &rb):
		return "rolled back: " + rb.Reason
	case errors.As(err, &ans):
		return "refused: " + ans.Message
	}
	return "failed: " + err.Error()
}

// quickStatus asks a target once for its status, for the version it runs
// (none if it does not answer).
func quickStatus(ctx context.Context, to string, port int) spec.UpdateStatus {
	base, err := updateclient.BaseURL(to, port)
	if err != nil {
		return spec.UpdateStatus{}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusTimeout)
	defer cancel()
	st, _ := updateclient.Status(ctx, base)
	return st
}

// printFleetStatus prints each target's status, asked a few at a time, in
// the targets' order; it fails if one did not answer.
func printFleetStatus(ctx context.Context, out io.Writer, targets []string) error {
	bufs := make([]bytes.Buffer, len(targets))
	errs := make([]error, len(targets))
	plan, err := rollout.Plan(targets, 8)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, plan.Parallel)
	for i, t := range plan.Targets() {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			ctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			errs[i] = printUpdateStatus(ctx, &bufs[i], t)
		}()
	}
	wg.Wait()
	var bad []string
	for i, t := range targets {
		if i > 0 {
			fmt.Fprintln(out)
		}
		if errs[i] != nil {
			fmt.Fprintf(out, "appliance %s\nerror     %v\n", t, errs[i])
			bad = append(bad, t)
			continue
		}
		out.Write(bufs[i].Bytes())
	}
	if len(bad) > 0 {
		return fmt.Errorf("no status from %s", strings.Join(bad, ", "))
	}
	return nil
}

// lineWriter writes whole lines to w, each led by prefix, one at a time
// under mu, so that the lines of targets in flight together never mix.
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		l.mu.Lock()
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i])
		l.mu.Unlock()
		l.buf = l.buf[i+1:]
	}
}

// flush writes what is left of a last line without its newline.
func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.Write([]byte("\n"))
	}
}
