package debian

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// No maintainer script runs: an image is unpacked packages. A package is
// taken when its preinst and postinst only do what the image can do
// without (prerm and postrm run on removal, which an image never sees;
// config only asks debconf questions, whose answers a postinst would use):
//
//   - debhelper's generated sections from skippedHelpers: byte-compiling
//     (py3compile; without .pyc files Python compiles a module when it
//     imports it, costing start-up time, not function), ldconfig (the loader
//     searches Debian's library directories without a cache), services
//     and init scripts (the image's init runs only its apps), conffile
//     moves, icons, menus and MIME databases;
//   - update-alternatives --install, whose link is made directly to the
//     alternative (alternatives below);
//   - shell scaffolding: set -e, if/case/esac around the above, echo,
//     exit;
//   - the packages in harmlessScripts, whose scripts only matter on a
//     running Debian system, for the reason given.
//
// Anything else refuses the package, naming it, the script and the line.

// skippedHelpers are the debhelper commands whose generated sections
// are skipped.
var skippedHelpers = map[string]bool{
	"dh_python3": true, "dh_python2": true, "dh_pypy": true, "dh_makeshlibs": true,
	"dh_installdeb": true, "dh_installinit": true, "dh_installsystemd": true,
	"dh_systemd_enable": true, "dh_systemd_start": true, "dh_installsystemduser": true,
	"dh_installtmpfiles": true, "dh_installsysusers": true, "dh_installcatalogs": true,
	"dh_icons": true, "dh_installmenu": true, "dh_installmime": true, "dh_installdocs": true,
	"dh_installalternatives": true, "dh_installxfonts": true, "dh_installdebconf": true,
	"dh_installinfo": true, "dh_installemacsen": true, "dh_usrlocal": true,
}

// harmlessScripts are packages whose scripts are skipped by name.
var harmlessScripts = map[string]string{
	"libc6":                 "restarts services after an upgrade and checks the running kernel",
	"libc-bin":              "runs ldconfig and migrates an old ld.so.conf",
	"libssl3":               "restarts services after an upgrade",
	"libpam0g":              "restarts services after an upgrade",
	"libgcc-s1":             "no-op",
	"dpkg":                  "sets up dpkg's database and logs, which the image does not use",
	"python3-minimal":       "byte-compiles and registers Python with the running system",
	"python3.11-minimal":    "byte-compiles and makes /usr/local/lib/python3.11",
	"python3.11":            "byte-compiles the standard library",
	"libpython3.11-stdlib":  "byte-compiles the standard library",
	"libpython3.11-minimal": "byte-compiles the standard library",
	"readline-common":       "registers its info page",
	"python3":               "writes py3compile's settings and runs other packages' byte-compiling hooks",
	"libgssapi-krb5-2":      "moves a file on upgrades from before bookworm",
	"media-types":           "no-op on a first install",
	"tzdata":                "asks for the local time zone (the image's is UTC)",
	"ca-certificates":       "builds /etc/ssl/certs, which the image's programs may need: add it from the host with files if they do",
}

var (
	dhBeginRE = regexp.MustCompile(`^# Automatically added by (dh_[a-z0-9_]+)`)
	dhEndRE   = regexp.MustCompile(`^# End automatically added section`)
	// scaffoldRE matches shell lines that do nothing by themselves.
	scaffoldRE = regexp.MustCompile(`^(#.*|set -[a-z]+.*|exit( [0-9]+)?|:|true|then|else|fi|esac|;;|done|\*\)|[-a-z|*"]+\)|case .* in|(el)?if [^;]*(;\s*then)?|(echo|printf) [^;|]*)$`)
	// allowedRE matches commands the image can do without.
	allowedRE = regexp.MustCompile(`^(ldconfig|py3compile|pypy3compile|py3clean|dpkg-maintscript-helper|deb-systemd-helper|deb-systemd-invoke|invoke-rc.d|update-rc.d|systemctl|update-alternatives) `)
	altRE     = regexp.MustCompile(`update-alternatives\s+(?:--\S+\s+)*--install\s+(\S+)\s+\S+\s+(\S+)\s+(\d+)((?:\s+--slave\s+\S+\s+\S+\s+\S+)*)`)
	slaveRE   = regexp.MustCompile(`--slave\s+(\S+)\s+\S+\s+(\S+)`)
)

// checkScripts applies the policy to the control files in dir and returns
// the links update-alternatives would make.
func checkScripts(pkg, dir string) (map[string]string, error) {
	links := map[string]string{}
	var errs []error
	for _, script := range []string{"preinst", "postinst"} {
		data, err := os.ReadFile(filepath.Join(dir, script))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("reading %s's %s: %w", pkg, script, err)
		}
		alternatives(string(data), links)
		if _, ok := harmlessScripts[pkg]; ok {
			continue
		}
		if line := needed(string(data)); line != "" {
			errs = append(errs, fmt.Errorf("Debian package %s: its %s does what the image would need and mkimage runs no maintainer scripts: %q", pkg, script, line))
		}
	}
	return links, errors.Join(errs...)
}

// needed returns the first line of a script the image might need, or "".
func needed(script string) string {
	skipping := false
	for _, line := range logicalLines(script) {
		switch {
		case skipping:
			skipping = !dhEndRE.MatchString(line)
		case dhBeginRE.MatchString(line):
			skipping = skippedHelpers[dhBeginRE.FindStringSubmatch(line)[1]]
		case line == "" || strings.HasPrefix(line, "#!"):
		case scaffoldRE.MatchString(line), allowedRE.MatchString(line + " "):
		default:
			return line
		}
	}
	return ""
}

// logicalLines joins continued lines and trims them.
func logicalLines(script string) []string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	lines := strings.Split(script, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return lines
}

// alternatives adds the links the script's update-alternatives --install
// calls make, the highest priority winning, to links (link -> target).
func alternatives(script string, links map[string]string) {
	prio := map[string]int{}
	for _, m := range altRE.FindAllStringSubmatch(strings.ReplaceAll(script, "\\\n", " "), -1) {
		if isDropped(m[1]) {
			continue
		}
		p, _ := strconv.Atoi(m[3])
		if old, ok := prio[m[1]]; ok && old >= p {
			continue
		}
		prio[m[1]] = p
		links[m[1]] = m[2]
		for _, s := range slaveRE.FindAllStringSubmatch(m[4], -1) {
			if !isDropped(s[1]) {
				links[s[1]] = s[2]
			}
		}
	}
}

// makeLinks makes the alternatives' links in an unpacked root, where the
// package does not ship the path itself.
func makeLinks(root string, links map[string]string) error {
	for _, link := range sortedKeys(links) {
		p := filepath.Join(root, link)
		if _, err := os.Lstat(p); err == nil || isDropped(link) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(links[link], p); err != nil {
			return err
		}
	}
	return nil
}
