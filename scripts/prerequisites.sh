#!/usr/bin/env bash
# What `make demo` or `make test` needs from the machine, checked before any long step:
# everything missing is named at once, with how to get it. Usage: prerequisites.sh demo|test|test-fast
# (test-fast: the tests but those that run Apache Kafka, the browser test and the drills)
# (PYTHON: the interpreter the venv is built from, python3 unless set).
set -uo pipefail

target=${1:?usage: prerequisites.sh demo|test|test-fast}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
missing=()

need() { missing+=("$1"$'\n      '"$2"); }
has() { command -v "$1" >/dev/null 2>&1; }
# at_least FOUND WANTED: true when version FOUND >= WANTED (dotted numbers).
at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
# The first dotted number in a command's output ("v20.19.1" -> 20.19.1), empty without one.
version_of() { "$@" 2>&1 | grep -oE '[0-9]+(\.[0-9]+)+' | head -n1; }

found=$(has "$PYTHON" && "$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
if [ -z "$found" ] || ! at_least "$found" 3.11; then
  need "Python >= 3.11 as $PYTHON${found:+ (found $found)}" \
    "https://www.python.org/downloads/, or your system's python3; another interpreter: make $target PYTHON=python3.12"
elif ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need "Python's venv module for $PYTHON" "sudo apt-get install python3-venv (Debian, Ubuntu)"
fi
has gcc || need "gcc (compiles the model into a shared library)" "sudo apt-get install gcc"
found=$(has rustc && version_of rustc --version)
if ! has cargo || [ -z "$found" ] || ! at_least "$found" 1.85; then
  need "cargo and rustc >= 1.85 (build the feature kernel, native/)${found:+ (found rustc $found)}" \
    "https://rustup.rs, then open a new shell (or add ~/.cargo/bin to PATH)"
fi
found=$(has node && version_of node --version)
if ! has npm || [ -z "$found" ] || ! at_least "$found" 20.19; then
  need "node >= 20.19 and npm (build the console, frontend/)${found:+ (found node $found)}" \
    "https://nodejs.org/en/download (or NodeSource's Debian packages)"
fi

if [ "$target" = test ] || [ "$target" = test-fast ]; then
  found=$(has go && version_of go version)
  if [ -z "$found" ] || ! at_least "$found" 1.22.7; then
    need "go >= 1.22.7 (builds kustomize once, for the deployment tests)${found:+ (found go $found)}" \
      "https://go.dev/dl/, or sudo apt-get install golang-go"
  fi
  if [ ! -x var/bin/promtool ] && ! has apt-get; then
    need "apt-get (promtool is unpacked from Debian's prometheus package into var/bin)" \
      "run the tests on Debian or Ubuntu, or put promtool at var/bin/promtool"
  fi
fi

if [ "$target" = test ]; then
  found=$(has java && version_of java -version)
  major=${found%%.*}
  [ "$major" = 1 ] && major=$(echo "$found" | cut -d. -f2) # "1.8.0" is Java 8
  if [ -z "$found" ] || [ "$major" -lt 17 ] || ! has mvn; then
    need "java >= 17 and mvn (run a real Apache Kafka for the Kafka tests)${found:+ (found java $major)}" \
      "sudo apt-get install openjdk-17-jre-headless maven"
  fi
  # scripts/debian-packages.sh installs these when missing, which takes root and apt-get;
  # promtool is unpacked from the prometheus package, which takes apt-get only.
  packages=()
  has haproxy || packages+=(haproxy)
  has chromium || packages+=(chromium)
  if [ ${#packages[@]} -gt 0 ] && ! { [ "$(id -u)" -eq 0 ] && has apt-get; }; then
    need "${packages[*]} (the rolling-update drill and the console's browser test)" \
      "sudo apt-get install -y --no-install-recommends ${packages[*]}"
  fi
fi

[ ${#missing[@]} -eq 0 ] && exit 0
{
  echo "make $target: missing prerequisites (nothing was built):"
  for item in "${missing[@]}"; do echo "  - $item"; done
} >&2
exit 1
