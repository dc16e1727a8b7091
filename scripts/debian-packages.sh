#!/usr/bin/env bash
# The Debian packages the test suite drives as real programs (never downloads of our own):
# each is installed only when its program is missing. CI runs as root without a terminal;
# elsewhere a missing package is named with the command that installs it.
set -euo pipefail

# program  package
WANTED=(
  "haproxy haproxy"        # the rolling-update drill's load balancer
  "chromium chromium"      # the console's browser test (driven by playwright-core)
)

missing=()
for pair in "${WANTED[@]}"; do
  read -r program package <<<"$pair"
  command -v "$program" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt run (a second checkout's setup) may hold the lock for a while: wait for it.
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq
apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
