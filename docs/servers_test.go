package docs_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/internal/testkit"
)

// The main configs below stand in for Debian's /etc/lighttpd/lighttpd.conf,
// /etc/nginx/nginx.conf and /etc/apache2/apache2.conf: the same modules and
// includes, with the port, pid and log files in the test's directory. The
// guide's block is the included site file, run as written apart from its
// placeholders.

// startLighttpd runs lighttpd -D with the guide's block as a conf-enabled
// file and returns its base URL.
func startLighttpd(t *testing.T, s *site, name, snippet string) string {
	t.Helper()
	bin := testkit.NeedPeer(t, "lighttpd")
	port := testkit.FreePort(t)
	inc := filepath.Join(s.Dir, name+".conf")
	write(t, inc, snippet)
	mime := ""
	if _, err := os.Stat("/usr/share/lighttpd/create-mime.conf.pl"); err == nil {
		mime = `include_shell "/usr/share/lighttpd/create-mime.conf.pl"`
	}
	main := filepath.Join(s.Dir, "lighttpd.conf")
	write(t, main, fmt.Sprintf(`server.modules = ( "mod_indexfile", "mod_access", "mod_alias", "mod_redirect" )
server.document-root = %q
server.bind = "127.0.0.1"
server.port = %d
index-file.names = ( "index.html" )
%s
include %q
server.modules += ( "mod_staticfile" )
`, s.Www, port, mime, inc))
	logPath := filepath.Join(s.Dir, "lighttpd.log")
	if out, err := exec.Command(bin, "-tt", "-f", main).CombinedOutput(); err != nil {
		t.Fatalf("lighttpd rejects the config: %v\n%s\n%s", err, out, snippet)
	}
	testkit.StartProc(t, exec.Command(bin, "-D", "-f", main), logPath)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testkit.WaitHTTP(t, base+"/", logPath)
	return base
}

// startNginx runs nginx in the foreground with the guide's block as a
// sites-enabled file.
func startNginx(t *testing.T, s *site, site string) string {
	t.Helper()
	bin := testkit.NeedPeer(t, "nginx")
	port := testkit.FreePort(t)
	site = fill(t, site, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port))
	conf := filepath.Join(s.Dir, "nginx")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	// Debian's fastcgi_params, which "include fastcgi_params" finds next
	// to the main config.
	if params, err := os.ReadFile("/etc/nginx/fastcgi_params"); err == nil {
		write(t, filepath.Join(conf, "fastcgi_params"), string(params))
	} else if strings.Contains(site, "fastcgi_params") {
		t.Fatalf("the block includes fastcgi_params, which nginx-common installs: %v", err)
	}
	write(t, filepath.Join(conf, "sites-enabled-myapp"), site)
	mime := ""
	if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
		mime = "include /etc/nginx/mime.types;"
	}
	main := filepath.Join(conf, "nginx.conf")
	write(t, main, fmt.Sprintf(`master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
	%[2]s
	default_type application/octet-stream;
	access_log off;
	client_body_temp_path %[1]s/body;
	fastcgi_temp_path %[1]s/fastcgi;
	proxy_temp_path %[1]s/proxy;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	include %[1]s/sites-enabled-myapp;
}
`, conf, mime))
	args := []string{"-p", conf, "-e", filepath.Join(conf, "error.log"), "-c", main, "-g", "daemon off;"}
	if out, err := exec.Command(bin, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx rejects the config: %v\n%s\n%s", err, out, site)
	}
	logPath := filepath.Join(conf, "stderr.log")
	testkit.StartProc(t, exec.Command(bin, args...), logPath)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testkit.WaitHTTP(t, base+"/", logPath, filepath.Join(conf, "error.log"))
	return base
}

// startApache runs apache2 -X (one process, foreground) with the guide's
// block as a sites-enabled file and the modules a2enmod would enable.
func startApache(t *testing.T, s *site, site string) string {
	t.Helper()
	bin := testkit.NeedPeer(t, "apache2")
	const mods = "/usr/lib/apache2/modules"
	if _, err := os.Stat(filepath.Join(mods, "mod_proxy_fcgi.so")); err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
			t.Fatalf("Apache's modules are missing: %v", err)
		}
		t.Skipf("Apache's modules are missing: %v", err)
	}
	port := testkit.FreePort(t)
	site = fill(t, site, "<VirtualHost *:80>", fmt.Sprintf("<VirtualHost *:%d>", port))
	conf := filepath.Join(s.Dir, "apache")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(conf, "myapp.conf"), site)
	var load strings.Builder
	for _, m := range []string{"mpm_event", "authz_core", "mime", "dir", "alias", "proxy", "proxy_fcgi", "proxy_http", "headers"} {
		fmt.Fprintf(&load, "LoadModule %s_module %s/mod_%s.so\n", m, mods, m)
	}
	main := filepath.Join(conf, "apache2.conf")
	write(t, main, fmt.Sprintf(`ServerRoot %[1]q
DefaultRuntimeDir %[1]q
PidFile %[1]s/apache2.pid
ErrorLog %[1]s/error.log
LogLevel warn
ServerName localhost
Listen 127.0.0.1:%[2]d
%[3]s
TypesConfig /etc/mime.types
DirectoryIndex index.html
<Directory />
	AllowOverride None
	Require all denied
</Directory>
Include %[1]s/myapp.conf
`, conf, port, load.String()))
	if out, err := exec.Command(bin, "-t", "-f", main).CombinedOutput(); err != nil {
		t.Fatalf("apache2 rejects the config: %v\n%s\n%s", err, out, site)
	}
	logPath := filepath.Join(conf, "stderr.log")
	testkit.StartProc(t, exec.Command(bin, "-X", "-f", main), logPath)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testkit.WaitHTTP(t, base+"/", logPath, filepath.Join(conf, "error.log"))
	return base
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLighttpdSpawn runs the seed's setup: lighttpd spawns the app with
// bin-path, aliases the static directories and routes /app.
func TestLighttpdSpawn(t *testing.T) {
	shared(t)
	s := newSite(t)
	conf := fill(t, guideBlock(t, "lighttpd-spawn"),
		"/srv/myapp/www", s.Www, "/srv/myapp/public", s.Pub,
		"/srv/myapp/bin/fcgiapp", appBin, "/run/lighttpd/myapp.sock", filepath.Join(s.Dir, "lighttpd-myapp.sock"))
	base := startLighttpd(t, s, "50-myapp", conf)
	checkStatic(t, base, s)
	page := checkApp(t, base)
	poolKnobs(t, page)
	if sw, _ := cgiVar(page, "SERVER_SOFTWARE"); !strings.HasPrefix(sw, "lighttpd/") {
		t.Errorf("SERVER_SOFTWARE %q: not served through lighttpd?", sw)
	}
}

// unitFile parses the keys of a systemd unit (repeated keys accumulate).
func unitFile(text string) map[string][]string {
	keys := map[string][]string{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

// startUnits does what systemd does with the guide's socket and service
// units: it creates the listening socket with the unit's mode (and group,
// when running as root), and starts ExecStart with the socket on fd 0 and
// the unit's Environment.
func startUnits(t *testing.T, s *site, sockUnit, svcUnit string) {
	t.Helper()
	sk, sv := unitFile(sockUnit), unitFile(svcUnit)
	one := func(keys map[string][]string, k string) string {
		if len(keys[k]) != 1 {
			t.Fatalf("unit key %s: %q, want one value", k, keys[k])
		}
		return keys[k][0]
	}
	if one(sv, "Service.StandardInput") != "socket" || one(sv, "Service.StandardOutput") != "journal" {
		t.Fatal("the service must take the socket on fd 0 and log to the journal")
	}
	path := one(sk, "Socket.ListenStream")
	mode, err := strconv.ParseUint(one(sk, "Socket.SocketMode"), 8, 32)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Chmod(path, os.FileMode(mode)); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if g, err := user.LookupGroup(one(sk, "Socket.SocketGroup")); err == nil {
			gid, _ := strconv.Atoi(g.Gid)
			os.Chown(path, -1, gid)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode: %v %v, want 0660 (only the web server's group may connect)", fi.Mode(), err)
	}
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exe := strings.Fields(one(sv, "Service.ExecStart"))
	cmd := exec.Command(exe[0], exe[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for _, e := range sv["Service.Environment"] {
		cmd.Env = append(cmd.Env, strings.Fields(e)...)
	}
	cmd.Stdin = f
	testkit.StartProc(t, cmd, filepath.Join(s.Dir, "myapp.log"))
	testkit.WaitSocket(t, path)
}

// TestAppOnItsOwnSocket runs the app as the guide's systemd units say, then
// the three sites that use its socket: lighttpd, nginx and Apache.
func TestAppOnItsOwnSocket(t *testing.T) {
	shared(t)
	s := newSite(t)
	sock := fill(t, guideBlock(t, "myapp-socket"), "/run/myapp/fcgiapp.sock", s.sock())
	svc := fill(t, guideBlock(t, "myapp-service"), "/srv/myapp/bin/fcgiapp", appBin)
	startUnits(t, s, sock, svc)
	paths := []string{"/srv/myapp/www", s.Www, "/srv/myapp/public", s.Pub, "/run/myapp/fcgiapp.sock", s.sock()}

	t.Run("lighttpd", func(t *testing.T) {
		base := startLighttpd(t, s, "50-myapp-socket", fill(t, guideBlock(t, "lighttpd-socket"), paths...))
		checkStatic(t, base, s)
		poolKnobs(t, checkApp(t, base))
	})
	t.Run("nginx", func(t *testing.T) {
		base := startNginx(t, s, fill(t, guideBlock(t, "nginx-fastcgi"), paths...))
		checkStatic(t, base, s)
		page := checkApp(t, base)
		poolKnobs(t, page)
		if r := get(t, base+"/app"); r.Status != 301 || !strings.HasSuffix(r.Header.Get("Location"), "/app/") {
			t.Errorf("GET /app: %d Location %q, want a 301 to /app/", r.Status, r.Header.Get("Location"))
		}
	})
	t.Run("apache", func(t *testing.T) {
		base := startApache(t, s, fill(t, guideBlock(t, "apache-fcgi"), paths...))
		checkStatic(t, base, s)
		poolKnobs(t, checkApp(t, base))
		r := get(t, base+"/app")
		wantVar(t, r.Body, "SCRIPT_NAME", "/app")
		wantVar(t, r.Body, "PATH_INFO", "")
		if r := get(t, base+"/app/deeper/path?q=1"); r.Status != 404 {
			t.Errorf("GET /app/deeper/path: %d, want the app's 404 (PATH_INFO /deeper/path)", r.Status)
		}
	})
}

// TestReverseProxy runs the three proxies of section 3 in front of the
// appliance's front end, run on the host from the spec that mkimage derived
// from the guide's appliance config.
func TestReverseProxy(t *testing.T) {
	shared(t)
	a := buildAppliance(t, "appliance")
	upstream := hostFront(t, a)
	addr := strings.TrimPrefix(upstream.base, "http://")
	host, port, _ := net.SplitHostPort(addr)

	t.Run("nginx", func(t *testing.T) {
		base := startNginx(t, a.site, fill(t, guideBlock(t, "nginx-proxy"), "192.0.2.10:80", addr))
		checkProxied(t, base, a.site, "127.0.0.1")
	})
	t.Run("apache", func(t *testing.T) {
		base := startApache(t, a.site, fill(t, guideBlock(t, "apache-proxy"), "192.0.2.10:80", addr))
		checkProxied(t, base, a.site, "127.0.0.1")
	})
	t.Run("lighttpd", func(t *testing.T) {
		conf := fill(t, guideBlock(t, "lighttpd-proxy"), `"192.0.2.10"`, strconv.Quote(host), `"port" => 80`, `"port" => `+port)
		base := startLighttpd(t, a.site, "50-myapp-proxy", conf)
		checkProxied(t, base, a.site, "127.0.0.1")
	})
}

// checkProxied checks the appliance through a proxy: static files, the
// app with the original Host and the forwarded headers, the status page
// closed.
func checkProxied(t *testing.T, base string, s *site, proxyAddr string) {
	t.Helper()
	checkStatic(t, base, s)
	page := checkApp(t, base)
	wantVar(t, page, "HTTP_HOST", siteHost)
	wantVar(t, page, "REMOTE_ADDR", proxyAddr)
	if xff, _ := cgiVar(page, "HTTP_X_FORWARDED_FOR"); !strings.Contains(xff, "127.0.0.1") {
		t.Errorf("HTTP_X_FORWARDED_FOR = %q, want the client's 127.0.0.1", xff)
	}
	wantVar(t, page, "HTTP_X_FORWARDED_PROTO", "http")
	for _, p := range []string{"/.status", "/.status.json"} {
		if r := get(t, base+p); r.Status != 403 {
			t.Errorf("GET %s through the proxy: %d, want 403", p, r.Status)
		}
	}
}
