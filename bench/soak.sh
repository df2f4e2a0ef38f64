#!/bin/sh
# bench/soak.sh: the front end's hostile-client soak (bench/soak), longer
# than the 20 s CI runs, on loopback: the front end (RLIMIT_NOFILE 256)
# and examples/fcgiapp as real processes, a seeded random mix of slow
# heads, long heads, pipelining with malformed requests, aborted uploads,
# invalid chunking, Range abuse, smuggling shapes and uploads, floods of
# connections past the descriptor limit in bursts, and checkers fetching
# known static and app pages (fresh and kept connections) byte for byte.
#
# Prints, for each seed, the table of requests per attacker kind and
# what they got (ok, 4xx, 5xx, no answer, wrong, desync), the checker's
# successes and failures (excused only during floods), the front end's
# memory (VmRSS, VmHWM against the bound) and descriptors (before, peak,
# after); then one summary line per seed. Exits 1 if any seed failed.
# Usage: bench/soak.sh [seconds] [seeds]   (defaults 60 and "1")
set -eu
DUR=${1:-60}
SEEDS=${2:-1}
cd "$(dirname "$0")/.."
command -v go >/dev/null || { echo "soak.sh: go is missing" >&2; exit 1; }

W=$(mktemp -d /tmp/soakbench.XXXXXX)
trap 'rm -rf "$W"' EXIT INT TERM
go build -o "$W/soak" ./bench/soak

status=0
for seed in $SEEDS; do
	echo "== seed $seed, ${DUR}s"
	if "$W/soak" -duration "${DUR}s" -seed "$seed" >"$W/out.$seed" 2>&1; then
		r=PASS
	else
		r=FAIL
		status=1
	fi
	cat "$W/out.$seed"
	echo "$seed $r" >>"$W/summary"
done

echo
printf "%-6s %-6s %9s %9s %7s %7s %10s %10s\n" seed result requests checks wrong desync "VmHWM KiB" "peak fds"
while read -r seed r; do
	awk -v seed="$seed" -v r="$r" '
		$1 ~ /^(slow-head|long-head|pipeline|aborted-upload|bad-chunking|range|smuggle|upload|flood)$/ {
			req += $4; wrong += $10; desync += $11
		}
		/^checker:/ { checks = $2 }
		/^front end:/ { for (i = 1; i <= NF; i++) if ($i == "VmHWM") hwm = $(i + 1) }
		/^descriptors:/ { for (i = 1; i <= NF; i++) if ($i == "peak") { fds = $(i + 1); sub(",", "", fds) } }
		END { printf "%-6s %-6s %9d %9d %7d %7d %10s %10s\n", seed, r, req, checks, wrong, desync, hwm, fds }
	' "$W/out.$seed"
done <"$W/summary"
exit $status
