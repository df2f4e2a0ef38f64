#!/usr/bin/env bash
# bench/gokrazy.sh [N]: the example appliance's disk.img against the gokrazy anchor image in one
# run. Builds the example once, unpacks the anchor (GOKRAZY_ANCHOR, default
# /work/shared/anchors/gokrazy-x86_64-hello8080.img.zst) and boots both with the same QEMU line
# (the one `mkimage boot -boot bios|uefi -m 512 -snapshot` runs: TCG, -cpu max -m 512 -smp 1,
# virtio disk with snapshot=on, restricted user networking), SeaBIOS then OVMF, interleaved
# A B A B for N rounds (default 2). Each time is QEMU's start to the first HTTP 200 on the
# hostfwd port (ours: guest port 80, gokrazy's hello program: 8080). Prints each time, the
# median of the per-round ratios ours/gokrazy per firmware, the sizes of both systems and the
# RAM in use once ours is idle. When the config takes [kernel] build = "small", the small
# kernel boots too, beside the default one (BENCH_SMALL=0 leaves it out).
# Each round's line ends with the host's load average: on a loaded host both times swing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
N=${1:-2}
anchor=${GOKRAZY_ANCHOR:-/work/shared/anchors/gokrazy-x86_64-hello8080.img.zst}
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd # as board qemu-x86_64
limit=$(awk -v s="${MKIMAGE_TIMEOUT_SCALE:-1}" 'BEGIN {print int(180 * s)}')
work=$(mktemp -d)
qpid=
trap '[ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true; rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }

# free_port prints a 127.0.0.1 port below the ephemeral range (where no client connection holds
# it) that nobody accepts connections on right now.
free_port() {
  local p lo
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  while :; do
    p=$((10000 + RANDOM % (lo - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# boot IMG GUESTPORT FIRMWARE LOG [STATUS]: boots the disk image IMG under FIRMWARE (seabios or
# ovmf) and sets T to the seconds from QEMU's start to the first HTTP 200 from GUESTPORT. With
# STATUS, it then fetches that path after 10 s of idling, into LOG.json.
boot() {
  local img=$1 gport=$2 fw=$3 log=$4 status=${5:-} try
  for try in 1 2 3; do
    start_qemu "$img" "$gport" "$fw" "$log" && break
    # Another process took the port between free_port and QEMU's bind: pick another.
    grep -q 'Could not set up host forwarding' "$log.qemu" && [ "$try" != 3 ] ||
      { echo "$img ($fw): QEMU exited before an HTTP 200" >&2; cat "$log.qemu" >&2; exit 1; }
  done
  T=$(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.1f", b - a}')
  if [ -n "$status" ]; then
    sleep 10
    curl -sf --max-time 5 "http://127.0.0.1:$PORT$status" >"$log.json"
  fi
  kill "$qpid"; wait "$qpid" 2>/dev/null || true
  qpid=
}

# start_qemu IMG GUESTPORT FIRMWARE LOG: starts QEMU (qpid, PORT) and waits for the first HTTP
# 200, setting T0 and T1 to QEMU's start and that answer; fails if QEMU exits first.
start_qemu() {
  local img=$1 gport=$2 fw=$3 log=$4 port fwargs=() c
  port=$(free_port)
  PORT=$port
  if [ "$fw" = ovmf ]; then
    cp "$vars" "$work/vars.fd"
    fwargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code" -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
  fi
  T0=$(date +%s.%N)
  # The line internal/qemu builds for a disk boot of an image that takes updates (the watchdog
  # device, no -no-reboot), with the console in a file and without the QMP socket.
  timeout "$limit" qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 512 -smp 1 \
    -nodefaults -no-user-config -display none -device i6300esb -serial "file:$log" -monitor none \
    -drive "file=$img,format=raw,if=virtio,snapshot=on" "${fwargs[@]}" \
    -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:$gport" \
    -device virtio-net-pci,netdev=n0 >"$log.qemu" 2>&1 &
  qpid=$!
  # A request every 0.1 s, each in the background: one sent before the
  # guest's network is up hangs in QEMU's user networking (its SYN to the
  # guest is retried seconds later), and waiting for it would add up to
  # --max-time to either system's figure. T1 is when the first 200 came.
  local polls=$work/polls.$port n=0
  rm -rf "$polls"; mkdir "$polls"
  T1=
  while [ -z "$T1" ]; do
    n=$((n + 1))
    ( c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/" || true)
      [ "$c" != 200 ] || date +%s.%N >"$polls/$n" ) &
    sleep 0.1
    T1=$(cat "$polls"/* 2>/dev/null | sort -n | head -1)
    [ -n "$T1" ] || kill -0 "$qpid" 2>/dev/null || { wait "$qpid" 2>/dev/null || true; qpid=; return 1; }
  done
  wait_polls
}

# wait_polls waits for the background requests (each ends within 2 s),
# not for QEMU.
wait_polls() {
  local p
  for p in $(jobs -p); do
    [ "$p" = "$qpid" ] || wait "$p" 2>/dev/null || true
  done
}

# Build the example once (and with the small kernel, when the config takes it).
go build -o "$work/mkimage" ./cmd/mkimage
"$work/mkimage" build -c examples/appliance/appliance.toml -o "$work/out" >/dev/null
kinds=(default)
if [ "${BENCH_SMALL:-1}" != 0 ] && grep -rqs '"small"' internal/config; then
  mkdir "$work/small"
  cp -r examples/appliance/. "$work/small/"
  printf '\n[kernel]\nbuild = "small"\n' >>"$work/small/appliance.toml"
  if "$work/mkimage" build -c "$work/small/appliance.toml" -o "$work/small/out" >"$work/small.log" 2>&1; then
    kinds+=(small)
  else
    echo "the small kernel did not build; its boots are left out:"; tail -5 "$work/small.log"
  fi
fi
img_default="$work/out/qemu-x86_64"
img_small="$work/small/out/qemu-x86_64"

# Unpack the anchor (sparse, 1.3 GiB apparent).
zstd -q -d --sparse "$anchor" -o "$work/gokrazy.img"
chmod u+w "$work/gokrazy.img"

# Sizes. gokrazy's system is its kernel (vmlinuz on the FAT boot partition, p1) plus its root
# file system (the squashfs on p2: bytes_used, the 8 bytes at offset 40 of its superblock).
start() { sfdisk -d "$1" | awk -v p="$1$2 " 'index($0, p) == 1 {sub(/,.*/, ""); sub(/.*start= */, ""); print}'; }
p1=$(start "$work/gokrazy.img" 1) p2=$(start "$work/gokrazy.img" 2)
gk_kernel=$(mcopy -n -i "$work/gokrazy.img@@$((p1 * 512))" ::vmlinuz - | wc -c)
gk_root=$(od -An -t u8 -j $((p2 * 512 + 40)) -N 8 "$work/gokrazy.img" | tr -d ' ')
gk_used=$(du -B1 "$work/gokrazy.img" | cut -f1)
gk_z=$(zstd -q -19 -c "$work/gokrazy.img" | wc -c)
echo "sizes (kernel + root file system; disk image: used blocks (du -B1), zstd -19 bytes):"
for k in "${kinds[@]}"; do
  d="img_$k"; d=${!d}
  for sysfile in "$d/initramfs.cpio.zst" "$d/root.squashfs"; do [ -e "$sysfile" ] && break; done # the small kernel's root is a squashfs
  kb=$(stat -c %s "$d/kernel") ib=$(stat -c %s "$sysfile")
  cp --sparse=always "$d/disk.img" "$work/$k.img" # the copy the boots use
  used=$(du -B1 "$d/disk.img" | cut -f1) sparse=$(du -B1 "$work/$k.img" | cut -f1) z=$(zstd -q -19 -c "$d/disk.img" | wc -c)
  printf '  ours (%s kernel): kernel %s + system %s = %s; disk.img %s used as built, %s after cp --sparse=always, %s zstd -19 (%s apparent)\n' \
    "$k" "$(mib "$kb")" "$(mib "$ib")" "$(mib $((kb + ib)))" "$(mib "$used")" "$(mib "$sparse")" "$(mib "$z")" "$(mib "$(stat -c %s "$d/disk.img")")"
  printf '    %.2fx gokrazy system; disk %.2fx used as built, %.2fx sparse, %.2fx zstd\n' \
    "$(echo "($kb+$ib)/($gk_kernel+$gk_root)" | bc -l)" "$(echo "$used/$gk_used" | bc -l)" "$(echo "$sparse/$gk_used" | bc -l)" "$(echo "$z/$gk_z" | bc -l)"
done
printf '  gokrazy: kernel %s + squashfs root %s = %s; image %s used (zstd -d --sparse), %s zstd -19 (%s apparent)\n' \
  "$(mib "$gk_kernel")" "$(mib "$gk_root")" "$(mib $((gk_kernel + gk_root)))" "$(mib "$gk_used")" "$(mib "$gk_z")" "$(mib "$(stat -c %s "$work/gokrazy.img")")"

# Boots: per firmware, N rounds of ours (each kernel) then gokrazy. The first SeaBIOS round
# also reads our status page after 10 s of idling, for the RAM in use.
for fw in seabios ovmf; do
  declare -A ratios=()
  for r in $(seq "$N"); do
    declare -A ts=()
    for k in "${kinds[@]}"; do
      boot "$work/$k.img" 80 "$fw" "$work/$k-$fw-$r.log" "$([ "$fw$r" != seabios1 ] || echo /.status.json)"
      ts[$k]=$T
    done
    boot "$work/gokrazy.img" 8080 "$fw" "$work/gk-$fw-$r.log"
    line="$fw round $r: gokrazy $T s"
    for k in "${kinds[@]}"; do
      line+=", ours ($k kernel) ${ts[$k]} s ($(awk -v a="${ts[$k]}" -v b="$T" 'BEGIN {printf "%.2fx", a / b}'))"
      ratios[$k]+="$(awk -v a="${ts[$k]}" -v b="$T" 'BEGIN {print a / b}') "
    done
    echo "$line; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    unset ts
  done
  for k in "${kinds[@]}"; do
    printf '%s: ours (%s kernel) / gokrazy, median of %d rounds: %.2fx\n' "$fw" "$k" "$N" \
      "$(tr ' ' '\n' <<<"${ratios[$k]}" | grep . | median)"
  done
  unset ratios
done
for k in "${kinds[@]}"; do
  j="$work/$k-seabios-1.log.json"
  printf 'ours (%s kernel), -m 512, idle 10 s after the first 200: RAM in use (MemTotal - MemAvailable) %s MiB of %s MiB\n' "$k" \
    "$(grep -o '"mem_in_use_mib": [0-9]*' "$j" | grep -o '[0-9]*$')" "$(grep -o '"mem_total_mib": [0-9]*' "$j" | grep -o '[0-9]*$')"
done
