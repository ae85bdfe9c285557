#!/bin/sh
# Installs the Debian packages shoal needs to build, test and benchmark, and
# only those missing.  Run as root (or through sudo) on Debian 12.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh bench    also the benchmark peers
#   scripts/install-deps.sh fuzz     also clang and libFuzzer (make fuzz)
set -eu

PKGS="build-essential cmake pkg-config libcriterion-dev libssl-dev python3"
if [ "${1:-}" = "bench" ]; then
  PKGS="$PKGS libzmq3-dev libboost-dev g++ libsqlite3-dev redis-server libhiredis-dev"
fi
if [ "${1:-}" = "fuzz" ]; then
  PKGS="$PKGS clang-14 libclang-rt-14-dev"
fi

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# python3 may come from elsewhere (pyenv); an interpreter on PATH is enough.
case " $missing " in *" python3 "*) command -v python3 >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ python3//');; esac
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root to install:$missing" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
