#!/usr/bin/env bash
# bench/update.sh: the figures of an update of the example appliance over loopback under QEMU
# (TCG here): the bundle's bytes, the seconds from `mkimage update` to the new version serving
# (committed), the downtime a client polling / every 100 ms sees, and the seconds a failed trial
# (its health URL answering 500) takes to be back on the old version. SeaBIOS disk boot; the
# trial deadline is 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
work=$(mktemp -d)
pids=()
trap 'kill -INT "${pids[@]}" 2>/dev/null || true; sleep 2; rm -rf "$work"' EXIT
export XDG_CONFIG_HOME="$work/config"
go build -o "$work/mkimage" ./cmd/mkimage
mk="$work/mkimage"
"$mk" keygen >/dev/null

# image VERSION HEALTH: the example's web root and app, [update] on.
image() {
  local d="$work/v$1"
  mkdir -p "$d"
  cat >"$d/appliance.toml" <<TOML
board = "qemu-x86_64"
[network]
address = "10.0.2.15/24"
[web]
root = "$PWD/examples/appliance/www"
[[app]]
name = "app"
prefix = "/app"
program = "github.com/mkimage/mkimage/examples/fcgiapp"
procs = 1
env = { LANG = "C" }
[update]
listen = ":4711"
allow = ["10.0.2.2/32"]
version = "$1"
health = "$2"
deadline = "60s"
TOML
  "$mk" build -c "$d/appliance.toml" -o "$d/out" >/dev/null
  echo "$d/out/qemu-x86_64"
}
v1=$(image 1.0.0 /app/hello)
v2=$(image 1.1.0 /app/hello)
v3=$(image 1.2.0 /app/no-such-page)
cp --sparse=always "$v1/disk.img" "$work/disk.img"

"$mk" boot -boot bios -disk "$work/disk.img" "$v1" >"$work/boot.log" 2>&1 &
pids+=($!)
for _ in $(seq 1200); do grep -q 'answered 200 after' "$work/boot.log" && break; sleep 0.1; done
url=$(grep -o 'open http://127.0.0.1:[0-9]*/' "$work/boot.log" | head -1 | cut -d' ' -f2)
to=$(grep -o -- '--to 127.0.0.1:[0-9]*' "$work/boot.log" | head -1 | cut -d' ' -f2)
[ -n "$url" ] && [ -n "$to" ] || { cat "$work/boot.log"; exit 1; }

# poll URL: one line per 100 ms, "seconds code", until killed.
poll() {
  while :; do
    printf '%s %s\n' "$(date +%s.%N)" "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" || true)"
    sleep 0.1
  done
}
# downtime LOG: the longest run of non-200 answers, in seconds.
downtime() {
  awk '$2!=200{if(s=="")s=$1; e=$1} $2==200{if(s!=""){d=e-s+0.1; if(d>m)m=d; s=""}} END{if(s!=""){d=e-s+0.1; if(d>m)m=d} printf "%.1f", m}' "$1"
}

poll >"$work/poll2.log" &
pids+=($!)
t0=$(date +%s.%N)
"$mk" update "$v2" --to "$to" >"$work/update2.log" 2>&1
t1=$(date +%s.%N)
kill "${pids[-1]}"
bytes=$(stat -c %s "$v2"/*.mkup)
slot=$(stat -c %s "$v2/slot.img")

poll >"$work/poll3.log" &
pids+=($!)
t2=$(date +%s.%N)
"$mk" update "$v3" --to "$to" >"$work/update3.log" 2>&1 || true
t3=$(date +%s.%N)
kill "${pids[-1]}"
grep -q 'went back to version 1.1.0' "$work/update3.log" || { echo "the bad update was not rolled back:"; cat "$work/update3.log"; exit 1; }

printf '%-44s %s\n' "bundle (zstd of the slot image)" "$((bytes / 1024)) KiB of a $((slot / 1048576)) MiB slot"
printf '%-44s %.1f s\n' "mkimage update to the new version committed" "$(echo "$t1 - $t0" | bc)"
printf '%-44s %s s\n' "downtime seen by a client (100 ms polls)" "$(downtime "$work/poll2.log")"
printf '%-44s %.1f s\n' "failed trial (health 500) back on the old" "$(echo "$t3 - $t2" | bc)"
printf '%-44s %s s\n' "downtime during the failed trial" "$(downtime "$work/poll3.log")"
