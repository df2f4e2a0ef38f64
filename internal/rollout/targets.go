package rollout

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// ParseTargets reads a --to value: comma-separated items, each a target
// (HOST[:PORT], or a URL) or @FILE, a file of targets (see ReadTargets).
// An empty item is refused.
func ParseTargets(to string) ([]string, error) {
	var targets []string
	for item := range strings.SplitSeq(to, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			return nil, fmt.Errorf("%q: an empty target (want HOST[:PORT],... or @FILE)", to)
		case strings.HasPrefix(item, "@"):
			t, err := readTargetsFile(item[1:])
			if err != nil {
				return nil, err
			}
			targets = append(targets, t...)
		case strings.ContainsAny(item, " \t"):
			return nil, fmt.Errorf("%q: a target holds no spaces", item)
		default:
			targets = append(targets, item)
		}
	}
	return targets, nil
}

func readTargetsFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the targets: %w", err)
	}
	defer f.Close()
	return ReadTargets(f, path)
}

// ReadTargets reads a targets file: one HOST[:PORT] a line; blank lines
// and everything from a # on are ignored. name is for errors. A file
// naming no target is refused.
func ReadTargets(r io.Reader, name string) ([]string, error) {
	var targets []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.ContainsAny(line, " \t,@"):
			return nil, fmt.Errorf("%s:%d: %q: want one HOST[:PORT] a line", name, n, line)
		}
		targets = append(targets, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("%s names no target (one HOST[:PORT] a line, # comments)", name)
	}
	return targets, nil
}
