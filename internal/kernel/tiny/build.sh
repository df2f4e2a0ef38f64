#!/usr/bin/env bash
# kernel/tiny/build.sh: build a small x86_64 kernel from Debian's linux-source package:
# `make tinyconfig` plus the options in x86_64.config. Prints the bzImage's path. The result
# is cached by the config, this script and the source version, so a second run is instant.
# Needs the Debian packages linux-source-6.1 bc bison flex libelf-dev libssl-dev build-essential.
# About 3.5 minutes on 2 cores; about 2 MiB; boots the example appliance in 64 MiB of RAM.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)
[ -n "$src" ] || { echo "install Debian's linux-source-6.1 first" >&2; exit 1; }
key=$(cat "$here/x86_64.config" "$here/build.sh" | sha256sum | cut -c1-12)-$(basename "$src" .tar.xz)
out="${XDG_CACHE_HOME:-$HOME/.cache}/mkimage/tiny-kernel/$key"
if [ ! -f "$out/bzImage" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "building the tiny kernel from $src (a few minutes)" >&2
  tar xJf "$src" -C "$work"
  cd "$work"/linux-source-*
  make -s tinyconfig >/dev/null
  grep -v '^#' "$here/x86_64.config" | while read -r opt; do
    [ -z "$opt" ] || ./scripts/config --enable "$opt"
  done
  ./scripts/config --set-val NR_CPUS 8
  make -s olddefconfig >/dev/null
  make -s -j"$(nproc)" bzImage >&2
  mkdir -p "$out.tmp"
  cp arch/x86/boot/bzImage .config "$out.tmp/"
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out/bzImage"
