#!/usr/bin/env bash
# The browser the console's end-to-end test drives: Debian's chromium package, never a
# browser download. Does nothing when it is there; installs it with apt as root (CI runs as
# root without a terminal); otherwise says what to run.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "browser.sh: $CHROMIUM is missing and installing it needs root; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium
"$CHROMIUM" --version
