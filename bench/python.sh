#!/bin/sh
# bench/python.sh: the python starter's Flask app (examples/starters/python)
# in mkimage_wsgi, through httpfront vs through lighttpd 1.4 (Debian), on
# loopback with wrk: the same two server processes on unix sockets behind
# each front end (as procs = 2), Flask's /app/health page ("ok"), 32
# connections, keep-alive. Rounds alternate the front ends; the ratio is
# the median of the per-round ratios. Needs python3 with Flask on the host
# (Debian: python3-flask), lighttpd, wrk and go.
# Usage: bench/python.sh [seconds] [rounds]   (defaults 5 and 3)
set -eu
DUR=${1:-5}
ROUNDS=${2:-3}
cd "$(dirname "$0")/.."
for bin in wrk lighttpd go python3; do
	command -v "$bin" >/dev/null || { echo "python.sh: $bin is missing" >&2; exit 1; }
done
python3 -c 'import flask' 2>/dev/null || { echo "python.sh: python3 has no flask (apt install python3-flask)" >&2; exit 1; }

W=$(mktemp -d /tmp/pybench.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
start() { "$@" >>"$W/log" 2>&1 & PIDS="$PIDS $!"; }
waitfor() { # waitfor TEST ARG: up to 5 s
	i=0
	until $1 "$2" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "python.sh: $2 never came up" >&2; cat "$W/log" >&2; exit 1; }
		sleep 0.05
	done
}
sock() { [ -S "$1" ]; }
url() { curl -sf -o /dev/null "$1"; }

mkdir -p "$W/www" "$W/data"
echo "<h1>bench</h1>" >"$W/www/index.html"
go build -o "$W/httpfront" ./httpfront/cmd/httpfront
for i in 0 1; do
	FCGI_LISTEN="$W/app.$i.sock" APP_DIR="$PWD/examples/starters/python/shop" DATA_DIR="$W/data" LANG=C \
		FCGI_MAX_THREADS=50 FCGI_MIN_SPARE=1 FCGI_MAX_SPARE=5 \
		start python3 fcgiserver/python/mkimage_wsgi.py app:application
	waitfor sock "$W/app.$i.sock"
done
sed -e "s|@ROOT@|$W/www|g" -e "s|@SOCK0@|$W/app.0.sock|g" -e "s|@SOCK1@|$W/app.1.sock|g" \
	bench/front/lighttpd.conf >"$W/lighttpd.conf"
sed -e "s|@ROOT@|$W/www|g" -e "s|@SOCK0@|$W/app.0.sock|g" -e "s|@SOCK1@|$W/app.1.sock|g" -e "s|@KEEP@||g" \
	bench/front/front.json >"$W/front.json"
start lighttpd -D -f "$W/lighttpd.conf"
start "$W/httpfront" -config "$W/front.json" -listen 127.0.0.1:18091
waitfor url http://127.0.0.1:18090/app/health
waitfor url http://127.0.0.1:18091/app/health

rps() { # rps URL: requests/s of a DUR-second run after a 1 s warm-up
	wrk -t2 -c32 -d1s "$1" >/dev/null 2>&1
	wrk -t2 -c32 -d"${DUR}s" "$1" | awk '/Requests\/sec/ { printf "%.0f\n", $2 }
		/Non-2xx/ { print "python.sh: non-2xx answers" > "/dev/stderr"; exit 1 }'
}
: >"$W/ratios"
r=0
while [ $r -lt "$ROUNDS" ]; do
	l=$(rps http://127.0.0.1:18090/app/health)
	f=$(rps http://127.0.0.1:18091/app/health)
	printf "round %d: lighttpd %s req/s, httpfront %s req/s\n" $((r + 1)) "$l" "$f"
	awk -v a="$f" -v b="$l" 'BEGIN { printf "%.4f\n", a / b }' >>"$W/ratios"
	r=$((r + 1))
done
printf "flask /app/health via mkimage_wsgi: ratio httpfront/lighttpd = %.2fx (rounds: %s)\n" \
	"$(sort -n "$W/ratios" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')" \
	"$(sort -n "$W/ratios" | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }')"
