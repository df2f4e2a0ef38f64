// Package updateclient is the sending side of `mkimage update`: it streams
// a signed bundle to an appliance's update agent with a progress bar, asks
// for its status, and waits for a new version to be committed.
package updateclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mkimage/mkimage/spec"
)

// BaseURL turns "HOST[:PORT]" (or a URL) into the agent's base URL; port
// is used when the target names none.
func BaseURL(to string, port int) (string, error) {
	if strings.HasPrefix(to, "http://") || strings.HasPrefix(to, "https://") {
		return strings.TrimSuffix(to, "/"), nil
	}
	host, p, err := net.SplitHostPort(to)
	if err != nil {
		host, p = strings.Trim(to, "[]"), strconv.Itoa(port)
	}
	if host == "" {
		return "", fmt.Errorf("%q: want HOST or HOST:PORT", to)
	}
	if _, err := strconv.Atoi(p); err != nil {
		return "", fmt.Errorf("%q: the port %q is not a number", to, p)
	}
	return "http://" + net.JoinHostPort(host, p), nil
}

// Send streams the bundle file to the agent at base. Progress (nil: none)
// gets a bar; the agent's refusal comes back as the error, in its words.
func Send(ctx context.Context, base, path string, progress io.Writer) (spec.UpdateResult, error) {
	var res spec.UpdateResult
	f, err := os.Open(path)
	if err != nil {
		return res, fmt.Errorf("opening the bundle: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("opening the bundle: %w", err)
	}
	var body io.Reader = f
	if progress != nil {
		bar := progressbar.NewOptions64(st.Size(),
			progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("sending"),
			progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionShowCount(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }))
		r := progressbar.NewReader(f, bar)
		body = &r
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+spec.UpdatePath, body)
	if err != nil {
		return res, err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	if err := do(req, &res); err != nil {
		return res, fmt.Errorf("sending %s to %s: %w", path, base, err)
	}
	return res, nil
}

// statusTimeout bounds one status question.
const statusTimeout = 10 * time.Second

// Status asks the agent at base for its boot state.
func Status(ctx context.Context, base string) (spec.UpdateStatus, error) {
	var st spec.UpdateStatus
	// One question at a time is bounded: a connection accepted while the
	// appliance reboots (QEMU's user network, a load balancer) may never
	// be answered, and a poll must not hang on it.
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+spec.UpdateStatusPath, nil)
	if err != nil {
		return st, err
	}
	if err := do(req, &st); err != nil {
		return st, fmt.Errorf("asking %s for its status: %w", base, err)
	}
	return st, nil
}

// WaitCommitted polls the agent until it runs version, committed (nil), or
// reports that the trial of version was rolled back (an error with the
// appliance's reason), or ctx ends. Connection errors while the appliance
// reboots are expected and retried.
func WaitCommitted(ctx context.Context, base, version string, every time.Duration) (spec.UpdateStatus, error) {
	for {
		st, err := Status(ctx, base)
		if err == nil {
			switch {
			case st.Version == version && !st.Trial && st.Committed == st.Slot:
				return st, nil
			case st.Version == version && st.Trial:
				// On trial, not judged yet: a rollback of the same
				// version in Last is an earlier attempt's.
			case st.Last != nil && st.Last.Version == version && st.Last.Result == spec.TrialRolledBack:
				return st, &RolledBackError{Version: version, Running: st.Version, Reason: st.Last.Reason}
			}
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("waiting for version %s to be committed on %s: %w (last: %v)", version, base, ctx.Err(), err)
		case <-time.After(every):
		}
	}
}

// AnswerError is an answer other than 200 OK: for a bundle, the agent's
// refusal in its own words.
type AnswerError struct {
	Status  string // "409 Conflict"
	Message string
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("the appliance answered %s: %s", e.Status, e.Message)
}

// RolledBackError is the verdict of a failed trial: the appliance went
// back to its committed version by itself.
type RolledBackError struct {
	Version string // tried
	Running string // back on
	Reason  string // the appliance's
}

func (e *RolledBackError) Error() string {
	return fmt.Sprintf("the appliance went back to version %s: the trial of %s failed: %s", e.Running, e.Version, e.Reason)
}

// do sends req and decodes a 200 answer into v; any other answer is an
// error carrying the agent's message.
func do(req *http.Request, v any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &AnswerError{Status: resp.Status, Message: strings.TrimSpace(string(body))}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("reading the appliance's answer: %w", err)
	}
	return nil
}
