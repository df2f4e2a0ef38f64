package initsvc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/ntp"
	"golang.org/x/sys/unix"
)

// clockSync sets the clock from the first NTP server that answers, at boot
// (retrying with backoff until one does) and then every hour.
func clockSync(ctx context.Context, con console, servers []string) {
	var b backoff
	for {
		server, offset, err := firstOffset(servers, queryNTP)
		if err == nil {
			err = stepClock(offset)
		}
		con.step("ntp", err, fmt.Sprintf("%s offset %v", server, offset.Round(time.Millisecond)))
		wait := time.Hour
		if err != nil {
			wait = min(b.next()*10, 5*time.Minute)
		} else {
			b.reset()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func queryNTP(server string) (time.Duration, error) {
	resp, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: 3 * time.Second})
	if err != nil {
		return 0, err
	}
	if err := resp.Validate(); err != nil {
		return 0, err
	}
	return resp.ClockOffset, nil
}

// firstOffset asks the servers in order and returns the first answer.
func firstOffset(servers []string, query func(string) (time.Duration, error)) (string, time.Duration, error) {
	var errs []error
	for _, s := range servers {
		off, err := query(s)
		if err == nil {
			return s, off, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s, err))
	}
	return "", 0, fmt.Errorf("no NTP server answered: %w", errors.Join(errs...))
}

func stepClock(offset time.Duration) error {
	tv := unix.NsecToTimeval(time.Now().Add(offset).UnixNano())
	if err := unix.Settimeofday(&tv); err != nil {
		return fmt.Errorf("setting the clock: %w", err)
	}
	return nil
}
