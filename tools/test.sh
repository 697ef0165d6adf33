#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (Debian packages, npm packages),
# publishes the native-AOT binaries, and runs every test project, the end-to-end tests against those binaries.
#
#   tools/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Grpc]
#   AIFACTORY_REUSE_PUBLISH=1 tools/test.sh ...   reuse artifacts/publish/linux-x64 instead of publishing again
#
# Set-up steps live in tests/setup.d/NN-name.sh, one per kind of dependency, run in order. Each is idempotent
# and may export variables for the tests by appending KEY=VALUE lines to "$AIFACTORY_TEST_ENV".
# Ends with the runner's per-assembly summaries and one line "Test summary: N passed, N failed, N skipped";
# the exit status is non-zero when a set-up step, the publish, the build or any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_GENERATE_ASPNET_CERTIFICATE=0
# No terminal in CI: plain console output that tee and the summary below can read.
export MSBUILDTERMINALLOGGER=off
mkdir -p artifacts
export AIFACTORY_TEST_ENV=$root/artifacts/test.env
: > "$AIFACTORY_TEST_ENV"
started=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - started ))s] $*"; }

if ! command -v dotnet >/dev/null; then
  echo "tools/test.sh: the .NET SDK (dotnet, version per global.json) is not on PATH" >&2
  exit 1
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  stamp "apt-get update"
  flock /tmp/aifactory-apt.lock apt-get update -qq </dev/null || echo "warning: apt-get update failed; using the package lists already here"
fi

for step in tests/setup.d/*.sh; do
  [ -e "$step" ] || continue
  stamp "setup: $step"
  bash "$step" </dev/null
done

if [ "${AIFACTORY_REUSE_PUBLISH:-}" = 1 ] && [ -x artifacts/publish/linux-x64/aifactory-agent ]; then
  stamp "reusing the native-AOT binaries already in artifacts/publish/linux-x64 (AIFACTORY_REUSE_PUBLISH=1): $(tr '\n' ' ' < artifacts/publish/linux-x64/BUILD-INFO)"
  built=$(sed -n 's/^commit=//p' artifacts/publish/linux-x64/BUILD-INFO)
  head=$(git rev-parse --short=12 HEAD 2>/dev/null || true)
  if [ -n "$head" ] && [ "$built" != "$head" ]; then
    echo "warning: those binaries were built from commit ${built:-unknown}, the checkout is at $head: end-to-end tests run the older code" >&2
  fi
else
  stamp "publish native AOT"
  tools/publish-aot.sh linux-x64 </dev/null
fi
echo "AIFACTORY_PUBLISH_DIR=$root/artifacts/publish/linux-x64" >> "$AIFACTORY_TEST_ENV"

set -a
# shellcheck disable=SC1090
. "$AIFACTORY_TEST_ENV"
set +a

stamp "dotnet test (end-to-end tests run the binaries in $AIFACTORY_PUBLISH_DIR)"
results=$root/artifacts/test-results
rm -rf "$results"
status=0
: > artifacts/test-output.log
# Build once (MSBuild builds projects in parallel), then run the test assemblies one after another (-m:1): several
# assemblies start daemons, QEMU guests, Prometheus and node peers, and on a 2-core machine running them side by side
# only turns generous timeouts into races. Costs about two minutes against running them side by side.
stamp "dotnet build"
dotnet build AiFactory.Agent.sln -c Release --nologo </dev/null 2>&1 | tee -a artifacts/test-output.log || status=$?
if [ "$status" = 0 ]; then
  stamp "dotnet test, one assembly at a time"
  dotnet test AiFactory.Agent.sln -c Release --no-build -m:1 --nologo --logger "trx" --results-directory "$results" \
    --logger "console;verbosity=normal" "$@" </dev/null 2>&1 | tee -a artifacts/test-output.log || status=$?
fi

# The runner's summaries, then one closing line over every test assembly. VSTest prints per assembly either
#   "Passed!  - Failed:     0, Passed:    66, Skipped:     0, Total:    66, Duration: 2 s - X.dll (net10.0)"
# (minimal verbosity) or, with the normal console verbosity used here, a block:
#   "Total tests: 29" / "     Passed: 26" / "     Failed: 3" / "    Skipped: 0" / " Total time: 33.7 Seconds"
echo
echo "== runner summaries"
grep -E '^(Passed|Failed)! +- Failed: |^Total tests: |^ +(Passed|Failed|Skipped): [0-9]+$|^ Total time: |^Test Run Aborted' artifacts/test-output.log \
  || echo "(no test assembly reported a summary)"
summary=$(awk '
  /^(Passed|Failed)! +- Failed: / {
    n++; gsub(/,/, ""); for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
  /^Total tests: [0-9]+$/ { n++; block = 1; next }
  block && /^ +Passed: [0-9]+$/ { p += $2; next }
  block && /^ +Failed: [0-9]+$/ { f += $2; next }
  block && /^ +Skipped: [0-9]+$/ { s += $2; next }
  block && /^ Total time: / { block = 0 }
  END { printf "%d %d %d %d", p, f, s, n }
' artifacts/test-output.log)
read -r passed failed skipped assemblies <<<"$summary"
if [ "$failed" != 0 ]; then
  # Repeated here, next to the summary, because CI keeps only the tail of the output: each failed test with the
  # first lines of its message and stack.
  echo
  echo "== failed tests"
  awk '/^  Failed / { show = 14 } show > 0 { print; show-- }' artifacts/test-output.log
fi
stamp "done: $assemblies test assemblies"
echo "Test summary: $passed passed, $failed failed, $skipped skipped"
if [ "$status" = 0 ] && [ "$failed" != 0 ]; then status=1; fi
if [ "$status" = 0 ] && [ "$assemblies" = 0 ]; then echo "tools/test.sh: no test ran" >&2; status=1; fi
exit "$status"
