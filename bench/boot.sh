#!/usr/bin/env bash
# bench/boot.sh [N]: build the example appliance once, boot it N times (default 5) under QEMU and
# print the median wall time from QEMU start to the first HTTP 200, plus the initramfs size and
# the RAM in use (MemTotal - MemAvailable, from the status page's JSON) once the first boot has
# idled 10 s after its first 200.
# Then the same for the disk images: x86_64 under SeaBIOS (and its idle RAM in use) and OVMF,
# aarch64 direct and under AAVMF (BENCH_DISK=0 skips them; BENCH_DISK_N boots each, default 3).
# BENCH_KERNEL=small builds with [kernel] build = "small" (its root is a squashfs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
N=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/mkimage" ./cmd/mkimage
cfg=examples/appliance/appliance.toml
if [ "${BENCH_KERNEL:-}" = small ]; then
  sed "s|^root = \"www\"|root = \"$PWD/examples/appliance/www\"|" "$cfg" >"$work/small.toml"
  printf '\n[kernel]\nbuild = "small"\n' >>"$work/small.toml"
  cfg="$work/small.toml"
fi
t0=$(date +%s.%N)
"$work/mkimage" build -c "$cfg" -o "$work/out" >/dev/null
t1=$(date +%s.%N)
img="$work/out/qemu-x86_64"
status=$(sed -n '/^\[web.status\]/,/^\[/ s/^path *= *"\(.*\)"/\1/p' "$cfg")
times=()
for i in $(seq "$N"); do
  log="$work/boot$i.log"
  "$work/mkimage" boot "$img" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    grep -q 'answered 200 after' "$log" && break
    sleep 0.1
  done
  t=$(grep -o 'answered 200 after [0-9.]*' "$log" | awk '{print $4}')
  if [ -n "$t" ] && [ "$i" = 1 ]; then
    sleep 10
    curl -sf --max-time 5 "$(grep -o 'open http://[0-9.:]*/' "$log" | cut -c6-)${status#/}.json" >"$work/status.json" || true
  fi
  kill -INT "$pid"; wait "$pid" || true
  [ -n "$t" ] || { echo "boot $i: no HTTP 200"; cat "$log"; exit 1; }
  accel=$(grep -o 'with [a-z]*;' "$log" | awk '{print $2}' | tr -d ';')
  echo "boot $i: $t s ($accel)"
  times+=("$t")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
for sysfile in "$img/initramfs.cpio.zst" "$img/root.squashfs"; do [ -e "$sysfile" ] && break; done # the small kernel's root is a squashfs
size=$(stat -c %s "$sysfile")
printf 'median QEMU start -> first HTTP 200: %s s over %d boots\n' "$median" "$N"
printf '%s: %d bytes (%.2f MiB); build: %.1f s\n' "$(basename "$sysfile")" "$size" "$(echo "$size/1048576" | bc -l)" "$(echo "$t1-$t0" | bc -l)"
json() { grep -o "\"$1\": [0-9]*" "$work/status.json" | grep -o '[0-9]*$'; }
if [ -s "$work/status.json" ]; then
  printf 'idle RAM in use (direct boot, 10 s after its first 200): %s MiB of %s MiB (%s MiB available)\n' \
    "$(json mem_in_use_mib)" "$(json mem_total_mib)" "$(json mem_available_mib)"
else
  echo "idle RAM in use: the status page ($status.json) did not answer"; exit 1
fi

# wait200 LOG: wait (up to 120 s) until the boot logging to LOG says it answered 200.
wait200() {
  for _ in $(seq 1200); do
    grep -q 'answered 200 after' "$1" && return
    sleep 0.1
  done
}

# boot_median NAME N IMG [BOOT ARGS...]: median of N boots' "answered 200 after" times.
boot_median() {
  local name=$1 n=$2 img=$3; shift 3
  local ts=() i log pid t
  for i in $(seq "$n"); do
    log="$work/$name$i.log"
    : >"$log" # before the background boot opens it: the loop below reads it at once
    "$work/mkimage" boot "$@" "$img" >"$log" 2>&1 &
    pid=$!
    wait200 "$log"
    t=$(grep -o 'answered 200 after [0-9.]*' "$log" | awk '{print $4}')
    kill -INT "$pid"; wait "$pid" || true
    [ -n "$t" ] || { echo "$name boot $i: no HTTP 200"; cat "$log"; exit 1; }
    ts+=("$t")
  done
  printf '%-22s median QEMU start -> first HTTP 200: %s s over %d boots (%s)\n' "$name" \
    "$(printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')" "$n" "${ts[*]}"
}

# idle_ram NAME IMG [BOOT ARGS...]: one boot; the status page's RAM in use 10 s after its first 200.
idle_ram() {
  local name=$1 img=$2; shift 2
  local log="$work/$name-idle.log" pid
  : >"$log"
  "$work/mkimage" boot "$@" "$img" >"$log" 2>&1 &
  pid=$!
  wait200 "$log"
  sleep 10
  curl -sf --max-time 5 "$(grep -o 'open http://[0-9.:]*/' "$log" | cut -c6-)${status#/}.json" >"$work/status.json" || true
  kill -INT "$pid"; wait "$pid" || true
  [ -s "$work/status.json" ] || { echo "$name: the status page did not answer"; cat "$log"; exit 1; }
  printf 'idle RAM in use (%s, 10 s after its first 200): %s MiB of %s MiB (%s MiB available)\n' \
    "$name" "$(json mem_in_use_mib)" "$(json mem_total_mib)" "$(json mem_available_mib)"
}

if [ "${BENCH_DISK:-1}" != 0 ]; then
  DN=${BENCH_DISK_N:-3}
  cp --sparse=always "$img/disk.img" "$work/pc.img"
  boot_median "x86_64 disk SeaBIOS" "$DN" "$img" -boot bios -disk "$work/pc.img" -snapshot
  idle_ram "x86_64 disk SeaBIOS" "$img" -boot bios -disk "$work/pc.img" -snapshot
  boot_median "x86_64 disk OVMF" "$DN" "$img" -boot uefi -disk "$work/pc.img" -snapshot
  printf 'x86_64 disk.img: %d bytes (%.1f MiB apparent)\n' "$(stat -c %s "$img/disk.img")" "$(echo "$(stat -c %s "$img/disk.img")/1048576" | bc -l)"
  if command -v qemu-system-aarch64 >/dev/null; then
    sed 's/^board = .*/board = "qemu-aarch64"/' "$cfg" >"$work/arm.toml"
    cp -r examples/appliance/www "$work/www"
    "$work/mkimage" build -c "$work/arm.toml" -o "$work/out" >/dev/null
    arm="$work/out/qemu-aarch64"
    boot_median "aarch64 direct" "$DN" "$arm"
    boot_median "aarch64 disk AAVMF" "$DN" "$arm" -boot uefi -snapshot
  fi
fi
