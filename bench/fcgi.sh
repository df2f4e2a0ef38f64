#!/usr/bin/env bash
# bench/fcgi.sh: lighttpd (mod_fastcgi, bin-path, max-procs 2) in front of the
# example app's /hello, served once by fcgiserver and once by Go's
# net/http/fcgi; wrk on loopback. Prints requests/s, p50 and p99 for both,
# the throughput ratio, and the RSS of an idle fcgiserver process.
#
# Knobs (environment): DURATION (10s), CONNS (64), THREADS (2), PROCS (2),
# FCGI_MAX_THREADS (50). Needs lighttpd, wrk and go.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PROCS=${PROCS:-2}
MAX_THREADS=${FCGI_MAX_THREADS:-50}

for tool in lighttpd wrk go; do
	command -v "$tool" >/dev/null || { echo "bench/fcgi.sh: $tool not found" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/fcgi-bench.XXXXXX)
LT_PID=""

# stop_lighttpd stops the lighttpd we started and any child it left behind.
stop_lighttpd() {
	[ -n "$LT_PID" ] || return 0
	local kids
	kids=$(ps -o pid= --ppid "$LT_PID" 2>/dev/null || true)
	kill "$LT_PID" 2>/dev/null || true
	wait "$LT_PID" 2>/dev/null || true
	for pid in $kids; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	LT_PID=""
}
trap 'stop_lighttpd; rm -rf "$WORK"' EXIT

free_port() {
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 40000))
		if ! ss -Hltn "sport = :$port" | grep -q .; then
			echo "$port"
			return
		fi
	done
	echo "bench/fcgi.sh: no free port" >&2
	exit 1
}

# start_lighttpd NAME ARGS: lighttpd on a free port spawning the app with ARGS.
start_lighttpd() {
	local name=$1 args=$2
	PORT=$(free_port)
	mkdir -p "$WORK/$name/www"
	cat >"$WORK/$name/lighttpd.conf" <<CONF
server.document-root = "$WORK/$name/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.errorlog = "$WORK/$name/error.log"
server.modules += ( "mod_fastcgi" )
fastcgi.server = ( "/app" => (( 
	"socket" => "$WORK/$name/app.sock",
	"bin-path" => "$WORK/fcgiapp $args",
	"max-procs" => $PROCS,
	"check-local" => "disable",
	"bin-environment" => ( "FCGI_MAX_THREADS" => "$MAX_THREADS" ),
)) )
CONF
	lighttpd -D -f "$WORK/$name/lighttpd.conf" 2>"$WORK/$name/stderr.log" &
	LT_PID=$!
	for _ in $(seq 100); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/app/hello" 2>/dev/null; then
			return
		fi
		sleep 0.1
	done
	echo "bench/fcgi.sh: lighttpd for $name did not come up" >&2
	cat "$WORK/$name/stderr.log" "$WORK/$name/error.log" >&2 || true
	exit 1
}

# rss_kib prints the RSS of one app process spawned by lighttpd.
rss_kib() {
	local pid
	pid=$(ps -o pid= --ppid "$LT_PID" | head -n1 | tr -d ' ')
	awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"
}

# bench NAME ARGS: prints "NAME REQ_PER_S P50 P99".
bench() {
	local name=$1 args=$2
	start_lighttpd "$name" "$args"
	if [ "$name" = fcgiserver ]; then
		rss_kib >"$WORK/rss-idle"
	fi
	wrk -t"$THREADS" -c"$CONNS" -d1s "http://127.0.0.1:$PORT/app/hello" >/dev/null
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/app/hello" >"$WORK/$name/wrk.txt"
	if [ "$name" = fcgiserver ]; then
		sleep 1
		rss_kib >"$WORK/rss-after"
	fi
	stop_lighttpd
	awk -v name="$name" '
		/^ +50%/ {p50 = $2}
		/^ +99%/ {p99 = $2}
		/^Requests\/sec:/ {rps = $2}
		/Non-2xx or 3xx responses:/ {bad = $NF}
		END {printf "%s %s %s %s %s\n", name, rps, p50, p99, (bad == "" ? 0 : bad)}
	' "$WORK/$name/wrk.txt"
}

cd "$ROOT"
go build -o "$WORK/fcgiapp" ./examples/fcgiapp

echo "lighttpd $(lighttpd -v | head -n1 | awk '{print $1}'), $PROCS procs via bin-path, wrk -t$THREADS -c$CONNS -d$DURATION, GET /app/hello"
read -r n1 rps1 p50_1 p99_1 bad1 < <(bench fcgiserver "")
read -r n2 rps2 p50_2 p99_2 bad2 < <(bench net/http/fcgi "-nethttp")
printf '%-14s %12s %10s %10s %8s\n' backend "requests/s" p50 p99 non-2xx
printf '%-14s %12s %10s %10s %8s\n' "$n1" "$rps1" "$p50_1" "$p99_1" "$bad1"
printf '%-14s %12s %10s %10s %8s\n' "$n2" "$rps2" "$p50_2" "$p99_2" "$bad2"
awk -v a="$rps1" -v b="$rps2" 'BEGIN {printf "ratio fcgiserver / net/http/fcgi: %.2fx (goal >= 1.20x)\n", a / b}'
echo "idle fcgiserver process RSS: $(cat "$WORK/rss-idle") KiB at start, $(cat "$WORK/rss-after") KiB idle after the run"
