#!/usr/bin/env bash
# ./do boot   build the example appliance and boot it under QEMU (prints the URL)
# ./do test   run every test: vet, gofmt, unit, real-peer, QEMU boot and fuzz
# Both install what they need on Debian 12 with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$PATH"

# grub-pc-bin and grub-efi-amd64-bin: the disk image's BIOS and UEFI boot loader (GRUB); ovmf: UEFI boots.
BOOT_PKGS=(qemu-system-x86 qemu-utils grub-pc-bin grub-efi-amd64-bin ovmf)
# qemu-system-arm + qemu-efi-aarch64: aarch64 (virt, AAVMF) and Raspberry Pi 3 (raspi3b) boots.
# btrfs-progs: flash's test that a mounted btrfs (anonymous st_dev) is found.
TEST_PKGS=(squashfs-tools lighttpd nginx-light apache2 php-cgi python3-flask libfcgi-bin spawn-fcgi wrk dosfstools btrfs-progs qemu-system-arm qemu-efi-aarch64 linux-source-6.1 bc bison flex libelf-dev libssl-dev build-essential gcc-aarch64-linux-gnu)

need_go() {
  if ! command -v go >/dev/null; then
    echo "Go 1.26 or newer is needed (https://go.dev/dl/, installed to /usr/local/go)" >&2
    exit 1
  fi
}

# apt_install installs the Debian packages whose binaries are missing.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${missing[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

cmd_boot() {
  need_go
  apt_install "${BOOT_PKGS[@]}"
  go build -o bin/mkimage ./cmd/mkimage
  exec ./bin/mkimage boot -c examples/appliance/appliance.toml -o out "$@"
}

# fuzz runs every Fuzz target in the tree for a short, bounded time. It
# fuzzes with Go 1.27 (from the module proxy, like any module; the build and
# the other tests stay on the machine's Go 1.26): Go 1.26's fuzz coordinator
# can fail a target that found nothing with a bare "context deadline
# exceeded" as -fuzztime ends (golang.org/issue/75804, fixed in Go 1.27;
# it failed FuzzGrowGPT here once).
fuzz() {
  local secs=${FUZZTIME:-10s} tc=${FUZZ_TOOLCHAIN:-go1.27.3}
  grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
    local pkg
    pkg="./$(dirname "${f#./}")"
    grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r name; do
      echo "fuzz $pkg $name ($secs)"
      GOTOOLCHAIN=$tc go test -run='^$' -fuzz="^${name}\$" -fuzztime="$secs" "$pkg" >/tmp/mkimage-fuzz.log 2>&1 || {
        cat /tmp/mkimage-fuzz.log; exit 1; }
    done
  done
}

# debian_kernel fetches Debian's amd64 kernel package (not installed: only
# unpacked into the cache) for the test that boots a local kernel with modules.
debian_kernel() {
  local pkg cache
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || { apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); }
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/mkimage/debian-kernel/$pkg"
  if [ ! -d "$cache/lib/modules" ]; then
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
    (cd "$cache.tmp" && apt-get download -qq "$pkg" 2> >(grep -v unsandboxed >&2) && dpkg-deb -x ./*.deb root && rm -f ./*.deb)
    mv "$cache.tmp/root" "$cache" && rm -rf "$cache.tmp"
  fi
  export MKIMAGE_DEBIAN_KERNEL="$cache"
}

# small_kernels builds (or finds in ~/.cache/mkimage/small-kernel) the
# small kernels of [kernel] build = "small", a few minutes each the first
# time, so the QEMU tests that boot them do not spend their timeout on it.
small_kernels() {
  local b dir
  dir=$(mktemp -d)
  for b in qemu-x86_64 qemu-aarch64; do
    printf 'board = "%s"\n[kernel]\nbuild = "small"\n[web]\nroot = "."\n' "$b" > "$dir/small.toml"
    go run ./cmd/mkimage build -dry-run -c "$dir/small.toml" > /dev/null
  done
  rm -rf "$dir"
}

cmd_test() {
  need_go
  apt_install "${BOOT_PKGS[@]}" "${TEST_PKGS[@]}"
  export MKIMAGE_REQUIRE_QEMU=1 MKIMAGE_REQUIRE_PEERS=1
  debian_kernel
  small_kernels
  go mod download
  go vet ./...
  local unformatted
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi
  # Host tests first, then what boots guests or loads the machine, one
  # package at a time: a TCG guest or the soak on the same two cores would
  # otherwise race the host tests' deadlines.
  local heavy='/(qemu-tests|docs|bench/soak)$'
  go test -count=1 -timeout 30m $(go list ./... | grep -Ev "$heavy")
  go test -count=1 -timeout 30m -p 1 $(go list ./... | grep -E "$heavy")
  fuzz
  echo "all tests passed"
}

case "${1:-}" in
  boot) shift; cmd_boot "$@" ;;
  test) shift; cmd_test "$@" ;;
  *) sed -n '2,4p' "$0" | sed 's/^# //'; exit 2 ;;
esac
