#!/bin/sh
# bench/https.sh: the front end over HTTPS against lighttpd 1.4 (mod_openssl)
# and nginx (Debian's), on one ECDSA P-256 certificate, on loopback, with
# wrk: static 1 KiB and 1 MiB files over kept connections (64), and the
# 1 KiB file with a new connection, so a new TLS handshake, per request
# (Connection: close). Each round runs lighttpd, nginx, httpfront in turn;
# the ratios printed are the medians of the per-round ratios.
# Needs wrk, lighttpd (with lighttpd-mod-openssl), nginx, openssl and go.
# Usage: bench/https.sh [seconds] [rounds]   (defaults 5 and 3)
set -eu
DUR=${1:-5}
ROUNDS=${2:-3}
cd "$(dirname "$0")/.."
for bin in wrk lighttpd nginx openssl go; do
	command -v "$bin" >/dev/null || { echo "https.sh: $bin is missing" >&2; exit 1; }
done
W=$(mktemp -d /tmp/httpsbench.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
start() { "$@" >>"$W/log" 2>&1 & PIDS="$PIDS $!"; }
waitport() {
	i=0
	until curl -sk -o /dev/null "https://127.0.0.1:$1/index.html"; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "https.sh: port $1 never came up" >&2; cat "$W/log" >&2; exit 1; }
		sleep 0.05
	done
}

mkdir -p "$W/www" "$W/nginx"
head -c 1024 /dev/urandom >"$W/www/1k.bin"
head -c 1048576 /dev/urandom >"$W/www/1m.bin"
echo "<h1>bench</h1>" >"$W/www/index.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
	-days 2 -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
go build -o "$W/httpfront" ./httpfront/cmd/httpfront

cat >"$W/front.json" <<JSON
{"listen": "127.0.0.1:18480", "root": "$W/www", "access_log": "off",
 "tls_listen": "127.0.0.1:18443", "tls_cert": "$W/cert.pem", "tls_key": "$W/key.pem"}
JSON
cat >"$W/lighttpd.conf" <<CONF
server.modules = ("mod_openssl")
server.document-root = "$W/www"
server.bind = "127.0.0.1"
server.port = 18481
server.max-connections = 1024
server.max-keep-alive-requests = 100000
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html", ".bin" => "application/octet-stream")
\$SERVER["socket"] == "127.0.0.1:18444" {
	ssl.engine = "enable"
	ssl.pemfile = "$W/cert.pem"
	ssl.privkey = "$W/key.pem"
}
CONF
cat >"$W/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $W/nginx/body;
	proxy_temp_path $W/nginx/proxy;
	fastcgi_temp_path $W/nginx/fastcgi;
	uwsgi_temp_path $W/nginx/uwsgi;
	scgi_temp_path $W/nginx/scgi;
	keepalive_requests 100000;
	sendfile on;
	server {
		listen 127.0.0.1:18445 ssl;
		ssl_certificate $W/cert.pem;
		ssl_certificate_key $W/key.pem;
		root $W/www;
	}
}
CONF
start lighttpd -D -f "$W/lighttpd.conf"
start nginx -c "$W/nginx.conf"
start "$W/httpfront" -config "$W/front.json"
waitport 18444; waitport 18445; waitport 18443

rps() { # rps URL: requests/s of a DUR-second run after a 1 s warm-up
	wrk -t2 -c64 -d1s ${HDR:+-H} ${HDR:+"$HDR"} "$1" >/dev/null 2>&1
	wrk -t2 -c64 -d"${DUR}s" ${HDR:+-H} ${HDR:+"$HDR"} "$1" | awk '/Requests\/sec/ { printf "%.0f\n", $2 }'
}
median() { sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
bench() { # bench NAME PATH
	: >"$W/rl"; : >"$W/rn"
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		l=$(rps "https://127.0.0.1:18444$2"); n=$(rps "https://127.0.0.1:18445$2"); f=$(rps "https://127.0.0.1:18443$2")
		printf "%-26s round %d: lighttpd %s, nginx %s, httpfront %s req/s\n" "$1" $((r + 1)) "$l" "$n" "$f"
		awk -v a="$f" -v b="$l" 'BEGIN { printf "%.4f\n", a / b }' >>"$W/rl"
		awk -v a="$f" -v b="$n" 'BEGIN { printf "%.4f\n", a / b }' >>"$W/rn"
		r=$((r + 1))
	done
	printf "%-26s httpfront/lighttpd = %.2fx, httpfront/nginx = %.2fx\n" "$1" "$(median <"$W/rl")" "$(median <"$W/rn")"
}
HDR=
bench "https static 1 KiB" /1k.bin
bench "https static 1 MiB" /1m.bin
HDR="Connection: close"
bench "https 1 KiB, close" /1k.bin
