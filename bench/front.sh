#!/bin/sh
# bench/front.sh: httpfront vs lighttpd 1.4 (Debian) on loopback, with wrk.
#
#   static 1 KiB and 1 MiB files, keep-alive, 64 connections;
#   the 1 KiB file and the FastCGI page again with a connection per request
#   (Connection: close), as from clients that do not keep connections;
#   FastCGI /app/hello through each server to the same pool of two
#   examples/fcgiapp processes on unix sockets (httpfront with its default
#   keep_conn, which reuses connections to backends that say they serve
#   several at once, and with keep_conn "off", a connection per request
#   like lighttpd).
#
# Prints req/s, p50 and p99 for each, and httpfront/lighttpd ratios.
# The box is shared, so each test runs ROUNDS times with the servers
# interleaved (lighttpd, httpfront, lighttpd, ...): the ratio printed is
# the median of the per-round ratios, each taken from runs a few seconds
# apart; the req/s lines are each server's median round.
# Neither server writes an access log.
# Usage: bench/front.sh [seconds] [rounds]   (defaults 5 and 3)
set -eu
DUR=${1:-5}
ROUNDS=${2:-3}
CONNS=64
cd "$(dirname "$0")/.."
for bin in wrk lighttpd go; do
	command -v "$bin" >/dev/null || { echo "front.sh: $bin is missing" >&2; exit 1; }
done

W=$(mktemp -d /tmp/frontbench.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

mkdir -p "$W/www"
head -c 1024 /dev/urandom >"$W/www/1k.bin"
head -c 1048576 /dev/urandom >"$W/www/1m.bin"
echo "<h1>bench</h1>" >"$W/www/index.html"

go build -o "$W/httpfront" ./httpfront/cmd/httpfront
go build -o "$W/fcgiapp" ./examples/fcgiapp

start() { # start CMD... in the background, remember its PID
	"$@" >"$W/log.$$.$(basename "$1")" 2>&1 &
	PIDS="$PIDS $!"
}
waitport() {
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$1/index.html"; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "port $1 never came up" >&2; exit 1; }
		sleep 0.05
	done
}
waitsock() {
	i=0
	until [ -S "$1" ]; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "socket $1 never came up" >&2; exit 1; }
		sleep 0.05
	done
}

for i in 0 1; do
	FCGI_LISTEN="$W/app.$i.sock" start "$W/fcgiapp"
	waitsock "$W/app.$i.sock"
done

sed -e "s|@ROOT@|$W/www|g" -e "s|@SOCK0@|$W/app.0.sock|g" -e "s|@SOCK1@|$W/app.1.sock|g" \
	bench/front/lighttpd.conf >"$W/lighttpd.conf"
for k in default off; do
	sed -e "s|@ROOT@|$W/www|g" -e "s|@SOCK0@|$W/app.0.sock|g" -e "s|@SOCK1@|$W/app.1.sock|g" \
		-e "s|@KEEP@|$([ $k = default ] || echo $k)|g" bench/front/front.json >"$W/front-$k.json"
done

start lighttpd -D -f "$W/lighttpd.conf"
start "$W/httpfront" -config "$W/front-default.json" -listen 127.0.0.1:18091
start "$W/httpfront" -config "$W/front-off.json" -listen 127.0.0.1:18092
waitport 18090; waitport 18091; waitport 18092

# run NAME URL: prints "req/s p50 p99" (latencies in ms); with HDR set,
# every request carries that header.
run() {
	wrk -t2 -c$CONNS -d1s ${HDR:+-H} ${HDR:+"$HDR"} "$2" >/dev/null 2>&1 # warm up
	wrk -t2 -c$CONNS -d"${DUR}s" --latency ${HDR:+-H} ${HDR:+"$HDR"} "$2" >"$W/wrk.out" 2>&1
	awk '
		function ms(v) {
			if (v ~ /us$/) return substr(v, 1, length(v)-2) / 1000
			if (v ~ /ms$/) return substr(v, 1, length(v)-2) + 0
			if (v ~ /s$/) return substr(v, 1, length(v)-1) * 1000
			return v
		}
		/Requests\/sec/ { rps = $2 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		/Non-2xx/ { bad = $NF }
		END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, (bad == "" ? 0 : bad) }
	' "$W/wrk.out"
}

printf "%-22s %-14s %10s %9s %9s %6s\n" test server "req/s" "p50 ms" "p99 ms" non2xx
line() { printf "%-22s %-14s %10s %9s %9s %6s\n" "$1" "$2" $3; }
# median FILE: the line whose first field is the median (lower middle)
median() { sort -n "$1" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }

bench() { # bench NAME PATH [keep]: rounds of lighttpd, httpfront (, keep_conn off)
	name=$1 path=$2
	: >"$W/l" ; : >"$W/f" ; : >"$W/k" ; : >"$W/rf" ; : >"$W/rk"
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		l=$(run lighttpd "http://127.0.0.1:18090$path"); echo "$l" >>"$W/l"
		f=$(run httpfront "http://127.0.0.1:18091$path"); echo "$f" >>"$W/f"
		awk -v a="${f%% *}" -v b="${l%% *}" 'BEGIN { printf "%.4f\n", a / b }' >>"$W/rf"
		if [ "${3:-}" = keep ]; then
			k=$(run httpfront "http://127.0.0.1:18092$path"); echo "$k" >>"$W/k"
			awk -v a="${k%% *}" -v b="${l%% *}" 'BEGIN { printf "%.4f\n", a / b }' >>"$W/rk"
		fi
		r=$((r + 1))
	done
	line "$name" lighttpd "$(median "$W/l")"
	line "$name" httpfront "$(median "$W/f")"
	[ "${3:-}" != keep ] || line "$name" "httpfront/off" "$(median "$W/k")"
	printf "%-22s ratio httpfront/lighttpd = %.2fx (rounds: %s)\n" "$name" "$(median "$W/rf")" \
		"$(sort -n "$W/rf" | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }')"
	if [ "${3:-}" = keep ]; then
		printf "%-22s ratio httpfront/lighttpd = %.2fx (rounds: %s)\n" "$name (keep_conn off)" "$(median "$W/rk")" \
			"$(sort -n "$W/rk" | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }')"
	fi
}

HDR=
bench "static 1 KiB" /1k.bin
bench "static 1 MiB" /1m.bin
bench "fastcgi hello" /app/hello keep
HDR="Connection: close"
bench "static 1 KiB, close" /1k.bin
bench "fastcgi hello, close" /app/hello
