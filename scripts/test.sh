#!/usr/bin/env bash
# The test suite on any machine that has the .NET SDK and node: installs what the integration tests need when it is
# missing (rabbitmq-server, nats-server and chromium from Debian's packages, the npm interop clients), builds, and runs every test.
# Usage: bash scripts/test.sh [extra `dotnet test` arguments, e.g. --filter FullyQualifiedName~BadInput]
# Environment: TEST_RESULTS=DIR keeps the test log there (default: a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Tests start their own broker processes on free loopback ports and stop exactly those, so the packages' own services
# are not started on install (policy-rc.d answers 101) and the binaries only need to be on the PATH.
need=()
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
# The FederationHost status page test drives Debian's chromium headless (through Playwright, at /usr/bin/chromium).
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (Debian packages; their services are not started)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  $sudo rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi
export PATH="$PATH:/usr/sbin"

command -v node >/dev/null 2>&1 || { echo "scripts/test.sh: node is required for the interop tests (npm clients)" >&2; exit 2; }
if [ ! -d tests/interop/node_modules ] || [ tests/interop/package-lock.json -nt tests/interop/node_modules ]; then
  echo "== third-party clients for the interop tests (npm ci in tests/interop)"
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
fi

echo "== build"
dotnet build Federation.Core.sln -c Release

echo "== tests"
results="${TEST_RESULTS:-$(mktemp -d)}"
mkdir -p "$results"
set +e
# One test assembly at a time (-m:1): the broker suites each boot several RabbitMQ nodes and nats-servers, and booting
# them all at once on a 2-core machine starved a RabbitMQ boot past its 2-minute deadline.
dotnet test Federation.Core.sln -c Release --no-build -m:1 --results-directory "$results" "$@" 2>&1 | tee "$results/test.log"
status=${PIPESTATUS[0]}
set -e

# One plain summary line: the totals of every test assembly.
passed=$(grep -Eo 'Passed: +[0-9]+' "$results/test.log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$results/test.log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$results/test.log" | awk '{s+=$2} END {print s+0}')
{
  # The failed tests by name with the first lines of their error messages, so that the closing lines a CI reader sees
  # say which ones and why (a reader may see only the log's tail; the full output is above).
  failures=$(awk '
    /^  Failed .* \[[^]]*\]$/ { name = $0; sub(/^  Failed /, "", name); sub(/ \[[^]]*\]$/, "", name); next }
    /^  Error Message:$/ { grab = 1; n = 0; print "failed: " name; next }
    /^  (Stack Trace|Standard Output Messages|Standard Error Messages):$/ { grab = 0; next }
    grab && n < 12 { line = $0; sub(/^ +/, "", line); if (length(line) > 600) line = substr(line, 1, 600) "..."; print "  | " line; n++ }
  ' "$results/test.log")
  if [ -n "$failures" ]; then
    echo "$failures"
  else
    # A test host that crashed prints no error message; name what xunit marked as failed.
    grep -E '^\[xUnit\.net [0-9:.]+\] +.*\[FAIL\]$' "$results/test.log" | sed -E 's/^\[xUnit\.net [0-9:.]+\] +/failed: /' | sort -u || true
  fi
  echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
} | tee "$results/summary.txt"
exit "$status"
