package debian

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The maintainer script policy: debhelper's byte-compiling and conffile
// sections and shell scaffolding pass, update-alternatives becomes links
// (not into dropped trees), and anything else refuses the package with
// the script and the line named.
func TestCheckScripts(t *testing.T) {
	dhPython := "#!/bin/sh\nset -e\n\n# Automatically added by dh_python3\nif command -v py3compile >/dev/null 2>&1; then\n\tpy3compile -p python3-flask \nfi\n# End automatically added section\n"
	tar := "#!/bin/sh\nset -e\n\ncase \"$1\" in\n    configure|abort-deconfigure|abort-remove)\n\tupdate-alternatives --install /usr/sbin/rmt rmt /usr/sbin/rmt-tar 50 \\\n\t\t--slave /usr/share/man/man8/rmt.8.gz rmt.8.gz \\\n\t\t\t/usr/share/man/man8/rmt-tar.8.gz \n    ;;\n    upgrade)\n    ;;\nesac\n"
	adduser := "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n\tadduser --system shop\nfi\n"
	oneLiner := "#!/bin/sh\nif true; then chown shop /var/lib/shop; fi\n"
	for _, tc := range []struct {
		name, postinst string
		links          map[string]string
		refused        string
	}{
		{"python3-flask", dhPython, map[string]string{}, ""},
		{"tar", tar, map[string]string{"/usr/sbin/rmt": "/usr/sbin/rmt-tar"}, ""},
		{"shop", adduser, map[string]string{}, "adduser --system shop"},
		{"shop2", oneLiner, map[string]string{}, "chown shop"},
		{"libc6", adduser, map[string]string{}, ""}, // allowed by name
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "postinst"), []byte(tc.postinst), 0o755)
		links, err := checkScripts(tc.name, dir)
		if !reflect.DeepEqual(links, tc.links) {
			t.Errorf("%s: links %v, want %v", tc.name, links, tc.links)
		}
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused) || !strings.Contains(err.Error(), tc.name+": its postinst")):
			t.Errorf("%s: got %v, want a refusal naming the package, the script and %q", tc.name, err, tc.refused)
		}
	}
}

// The host's bookworm mirrors are read from one-line and deb822 files;
// other suites and disabled stanzas are left out.
func TestSources(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "a.list")
	os.WriteFile(list, []byte("deb [arch=amd64 signed-by=/k.gpg] http://m/debian bookworm main contrib # c\ndeb-src http://m/debian bookworm main\n"), 0o644)
	d822 := filepath.Join(dir, "b.sources")
	os.WriteFile(d822, []byte("Types: deb\nURIs: http://s/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nURIs: http://x\nSuites: trixie\nComponents: main\n\nEnabled: no\nTypes: deb\nURIs: http://off\nSuites: bookworm\nComponents: main\n"), 0o644)
	got := append(oneLineSources(list), deb822Sources(d822)...)
	want := []source{
		{uri: "http://m/debian", suite: "bookworm", signedBy: "/k.gpg", components: []string{"main", "contrib"}},
		{uri: "http://s/debian-security", suite: "bookworm-security", components: []string{"main"}},
		{uri: "http://x", suite: "trixie", components: []string{"main"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if hs := HostSources(); len(hs) == 0 || !strings.Contains(hs[0], "bookworm") {
		t.Errorf("HostSources: %v", hs)
	}
}
