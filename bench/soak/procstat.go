package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
)

// memory is what /proc/PID/status says, in KiB.
type memory struct{ rss, hwm int64 }

func readMemory(pid int) (memory, error) {
	m, err := testkit.ProcStatusKB(pid)
	if err != nil {
		return memory{}, fmt.Errorf("reading the front end's memory: %w", err)
	}
	return memory{rss: m["VmRSS"], hwm: m["VmHWM"]}, nil
}

// fds are the front end's descriptors by kind.
type fds struct {
	total    int
	clients  int // TCP connections accepted on the listening port
	backends int // other sockets but the listener: connections to the app
	other    int // everything else: files, the listener, epoll, pipes
	// states of the client connections, when there are any
	states map[string]int
}

// tcpStates names /proc/net/tcp's st column.
var tcpStates = map[string]string{"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV",
	"04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
	"09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}

// readFDs classifies pid's descriptors; port is its listening port.
func readFDs(pid, port int) (fds, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fds{}, fmt.Errorf("listing the front end's descriptors: %w", err)
	}
	accepted, listening, err := tcpInodes(pid, port)
	if err != nil {
		return fds{}, err
	}
	f := fds{total: len(ents)}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		ino, sock := strings.CutPrefix(link, "socket:[")
		ino = strings.TrimSuffix(ino, "]")
		switch {
		case sock && accepted[ino] != "":
			f.clients++
			if f.states == nil {
				f.states = map[string]int{}
			}
			f.states[tcpStates[accepted[ino]]]++
		case sock && !listening[ino]:
			f.backends++
		default:
			f.other++
		}
	}
	return f, nil
}

// tcpInodes returns the inodes of TCP sockets on local port port:
// accepted connections, and listeners.
// accepted maps an inode to its state.
func tcpInodes(pid, port int) (accepted map[string]string, listening map[string]bool, err error) {
	accepted, listening = map[string]string{}, map[string]bool{}
	want := fmt.Sprintf(":%04X", port)
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, name))
		if err != nil {
			return nil, nil, fmt.Errorf("reading the sockets table: %w", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 || !strings.HasSuffix(fl[1], want) {
				continue
			}
			if fl[3] == "0A" { // LISTEN
				listening[fl[9]] = true
			} else {
				accepted[fl[9]] = fl[3]
			}
		}
		f.Close()
	}
	return accepted, listening, nil
}

// sampler reads the front end's memory and descriptors every interval.
type sampler struct {
	mu      sync.Mutex
	peakRSS int64 // KiB
	peakFDs int
	n       int
	errs    int
}

func (s *sampler) run(pid, port int, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		m, err1 := readMemory(pid)
		f, err2 := readFDs(pid, port)
		s.mu.Lock()
		s.n++
		if err1 != nil || err2 != nil {
			s.errs++
		}
		s.peakRSS = max(s.peakRSS, m.rss)
		s.peakFDs = max(s.peakFDs, f.total)
		s.mu.Unlock()
	}
}

// fdLimitOf reads the soft "Max open files" of pid.
func fdLimitOf(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "", fmt.Errorf("reading the front end's limits: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			return strings.Fields(rest)[0], nil
		}
	}
	return "", fmt.Errorf("no Max open files in /proc/%d/limits", pid)
}
