package debian

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Suites are the bookworm suites an image's packages come from.
var Suites = []string{"bookworm", "bookworm-updates", "bookworm-security"}

// Keyring is Debian's archive keyring, which signs the suites.
const Keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// defaultSources are used when the host names no bookworm mirror.
var defaultSources = []string{
	"deb [signed-by=" + Keyring + "] http://deb.debian.org/debian bookworm main",
	"deb [signed-by=" + Keyring + "] http://deb.debian.org/debian bookworm-updates main",
	"deb [signed-by=" + Keyring + "] http://deb.debian.org/debian-security bookworm-security main",
}

// source is one "deb" entry of the host's apt sources.
type source struct {
	uri, suite, signedBy string
	components           []string
}

// HostSources returns sources.list lines for the mirrors the host's apt
// uses for bookworm's suites (from /etc/apt/sources.list and
// sources.list.d, one-line and deb822 files), or deb.debian.org when it
// uses none. Their options but signed-by are dropped: the architecture is
// the image's.
func HostSources() []string {
	var all []source
	all = append(all, oneLineSources("/etc/apt/sources.list")...)
	parts, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	slices.Sort(parts)
	for _, p := range parts {
		switch filepath.Ext(p) {
		case ".list":
			all = append(all, oneLineSources(p)...)
		case ".sources":
			all = append(all, deb822Sources(p)...)
		}
	}
	var lines []string
	for _, s := range all {
		if !slices.Contains(Suites, s.suite) || len(s.components) == 0 {
			continue
		}
		key := s.signedBy
		if !strings.HasPrefix(key, "/") { // none, or a key inline
			key = Keyring
		}
		l := "deb [signed-by=" + key + "] " + s.uri + " " + s.suite + " " + strings.Join(s.components, " ")
		if !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return defaultSources
	}
	return lines
}

// oneLineSources reads "deb [opts] URI SUITE COMPONENT..." lines.
func oneLineSources(path string) []source {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []source
	for _, l := range strings.Split(string(data), "\n") {
		l, _, _ = strings.Cut(l, "#")
		var opts string
		if i, j := strings.Index(l, "["), strings.Index(l, "]"); i >= 0 && j > i {
			opts, l = l[i+1:j], l[:i]+l[j+1:]
		}
		f := strings.Fields(l)
		if len(f) < 4 || f[0] != "deb" {
			continue
		}
		s := source{uri: f[1], suite: f[2], components: f[3:]}
		for _, o := range strings.Fields(opts) {
			if k, v, _ := strings.Cut(o, "="); k == "signed-by" {
				s.signedBy = v
			}
		}
		out = append(out, s)
	}
	return out
}

// deb822Sources reads the stanzas of a .sources file.
func deb822Sources(path string) []source {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []source
	st := map[string]string{}
	flush := func() {
		enabled := !strings.EqualFold(st["enabled"], "no")
		if enabled && slices.Contains(strings.Fields(st["types"]), "deb") {
			for _, uri := range strings.Fields(st["uris"]) {
				for _, suite := range strings.Fields(st["suites"]) {
					out = append(out, source{uri: uri, suite: suite, signedBy: st["signed-by"], components: strings.Fields(st["components"])})
				}
			}
		}
		st = map[string]string{}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.TrimSpace(l) == "":
			flush()
		case strings.HasPrefix(l, "#"), strings.HasPrefix(l, " "), strings.HasPrefix(l, "\t"):
			// comments; continuation lines (an inline key) are not needed
		default:
			if k, v, ok := strings.Cut(l, ":"); ok {
				st[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
	}
	flush()
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
