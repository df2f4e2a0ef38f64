package debian

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// listsMaxAge is how old apt's package lists may be before a fetch
// updates them; a resolution that fails on older lists updates them and
// tries again.
const listsMaxAge = 6 * time.Hour

// apt is a private apt state in dir: its own sources.list, package lists,
// archives, preferences and an empty dpkg status file. APT_CONFIG points
// at a file that keeps the host's apt.conf and apt.conf.d out (proxies set
// with http_proxy still apply), so the host's settings (recommends,
// AppStream indexes, cleaning hooks) do not change what is chosen.
type apt struct {
	dir  string
	arch string
}

// aptDirs are made under the state directory.
var aptDirs = []string{"lists/partial", "cache", "archives/partial", "empty"}

func newApt(dir, arch string, sources []string) (*apt, error) {
	a := &apt{dir: filepath.Join(dir, "apt"), arch: arch}
	for _, d := range aptDirs {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("making apt's private state: %w", err)
		}
	}
	conf := fmt.Sprintf("Dir::Etc::Parts %q;\nDir::Etc::Main %q;\n", a.path("empty"), a.path("empty/none"))
	list := strings.Join(sources, "\n") + "\n"
	if old, err := os.ReadFile(a.path("sources.list")); err != nil || string(old) != list {
		os.Remove(a.path("updated")) // other mirrors: update the lists
	}
	for name, data := range map[string]string{"apt.conf": conf, "status": "", "sources.list": list} {
		if err := os.WriteFile(a.path(name), []byte(data), 0o644); err != nil {
			return nil, fmt.Errorf("making apt's private state: %w", err)
		}
	}
	return a, nil
}

func (a *apt) path(name string) string { return filepath.Join(a.dir, name) }

// args are the options that make apt-get use the private state only.
func (a *apt) args() []string {
	o := map[string]string{
		"Dir::State": a.dir, "Dir::State::Lists": a.path("lists"), "Dir::State::status": a.path("status"),
		"Dir::Cache": a.path("cache"), "Dir::Cache::Archives": a.path("archives"),
		"Dir::Etc::SourceList": a.path("sources.list"), "Dir::Etc::SourceParts": a.path("empty"),
		"Dir::Etc::Preferences": a.path("preferences"), "Dir::Etc::PreferencesParts": a.path("empty"),
		"APT::Architecture": a.arch, "APT::Architectures": a.arch,
		"APT::Immediate-Configure": "0", "APT::Install-Recommends": "0", "APT::Install-Suggests": "0",
		"APT::Sandbox::User": "root", "Debug::NoLocking": "1", "Acquire::Languages": "none",
		"Acquire::GzipIndexes": "true", "Dir::Cache::srcpkgcache": "",
	}
	var args []string
	for _, k := range sortedKeys(o) {
		args = append(args, "-o", k+"="+o[k])
	}
	return append(args, "-q")
}

// run runs apt-get with the private state and returns its output.
func (a *apt) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "apt-get", append(a.args(), args...)...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+a.path("apt.conf"), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	cmd.Dir = a.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("apt-get %s for %s: %w:\n%s", args[0], a.arch, err, aptErrors(out.String()))
	}
	return out.String(), nil
}

// aptErrors keeps apt's E: and W: lines (all of it when there are none).
func aptErrors(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, " ") && strings.Contains(l, "Depends:") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return strings.TrimSpace(out)
	}
	return strings.Join(keep, "\n")
}

// fresh reports whether the lists were updated less than listsMaxAge ago.
func (a *apt) fresh() bool {
	st, err := os.Stat(a.path("updated"))
	return err == nil && time.Since(st.ModTime()) < listsMaxAge
}

// update downloads the package lists.
func (a *apt) update(ctx context.Context) error {
	if _, err := a.run(ctx, "update"); err != nil {
		return err
	}
	if err := os.WriteFile(a.path("updated"), nil, 0o644); err != nil {
		return fmt.Errorf("marking apt's lists updated: %w", err)
	}
	return nil
}

// pin writes the preferences that hold locked packages at their versions.
func (a *apt) pin(versions map[string]string) error {
	var b strings.Builder
	for _, name := range sortedKeys(versions) {
		fmt.Fprintf(&b, "Package: %s\nPin: version %s\nPin-Priority: 1001\n\n", name, versions[name])
	}
	if err := os.WriteFile(a.path("preferences"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing apt preferences for the lock: %w", err)
	}
	return nil
}

// instRE matches a simulated install: "Inst NAME (VERSION ORIGINS [ARCH])".
var instRE = regexp.MustCompile(`(?m)^Inst (\S+) (?:\[\S+\] )?\((\S+) .*\[(\S+)\]\)`)

// resolve asks apt which packages installing wants (NAME or NAME=VERSION)
// takes into an empty system.
func (a *apt) resolve(ctx context.Context, wants []string) ([]Package, error) {
	out, err := a.run(ctx, append([]string{"install", "-s"}, wants...)...)
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	for _, m := range instRE.FindAllStringSubmatch(out, -1) {
		name, _, _ := strings.Cut(m[1], ":")
		pkgs = append(pkgs, Package{Name: name, Version: m[2], Arch: m[3]})
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("apt-get install -s %s chose no packages:\n%s", strings.Join(wants, " "), out)
	}
	return pkgs, nil
}

// uriRE matches apt-get --print-uris: 'URI' FILE SIZE HASH.
var uriRE = regexp.MustCompile(`(?m)^'\S+' (\S+\.deb) (\d+) `)

func wantExactly(pkgs []Package) []string {
	wants := make([]string, len(pkgs))
	for i, p := range pkgs {
		wants[i] = p.Name + "=" + p.Version
	}
	return wants
}

// pending returns how many of the packages' .debs are not in the
// archives yet and their size.
func (a *apt) pending(ctx context.Context, pkgs []Package) (int, int64, error) {
	out, err := a.run(ctx, append([]string{"install", "--download-only", "--print-uris", "-y"}, wantExactly(pkgs)...)...)
	if err != nil {
		return 0, 0, err
	}
	var n int
	var total int64
	for _, m := range uriRE.FindAllStringSubmatch(out, -1) {
		var size int64
		fmt.Sscan(m[2], &size)
		n, total = n+1, total+size
	}
	return n, total, nil
}

// download fetches the packages' .debs into the archives; apt checks
// them against the signed lists.
func (a *apt) download(ctx context.Context, pkgs []Package) error {
	_, err := a.run(ctx, append([]string{"install", "--download-only", "-y"}, wantExactly(pkgs)...)...)
	return err
}

// deb is where apt keeps p's .deb.
func (a *apt) deb(p Package) string {
	v := strings.ReplaceAll(p.Version, ":", "%3a")
	return a.path(filepath.Join("archives", p.Name+"_"+v+"_"+p.Arch+".deb"))
}

// Reachable fetches the host's bookworm release files into a private
// state in dir (a temporary directory): an error means apt cannot reach
// the mirrors, which tests that fetch packages check first.
func Reachable(ctx context.Context, dir string) error {
	a, err := newApt(dir, "amd64", HostSources())
	if err != nil {
		return err
	}
	out, err := a.run(ctx, "update", "-o", "Acquire::IndexTargets::deb::Packages::DefaultEnabled=false")
	if err == nil && strings.Contains(out, "Err:") {
		err = fmt.Errorf("apt-get update: %s", strings.TrimSpace(out))
	}
	return err
}
