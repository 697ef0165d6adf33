#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (Debian packages, npm packages),
# publishes the native-AOT binaries, and runs every test project against them.
#
#   tools/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Grpc]
#
# Set-up steps live in tests/setup.d/NN-name.sh, one per kind of dependency, run in order. Each is idempotent
# and may export variables for the tests by appending KEY=VALUE lines to "$AIFACTORY_TEST_ENV".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
mkdir -p artifacts
export AIFACTORY_TEST_ENV=$root/artifacts/test.env
: > "$AIFACTORY_TEST_ENV"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== apt-get update"
  apt-get update -qq || echo "warning: apt-get update failed; using the package lists already here"
fi

for step in tests/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "== setup: $step"
  bash "$step"
done

echo "== publish native AOT"
tools/publish-aot.sh linux-x64
echo "AIFACTORY_PUBLISH_DIR=$root/artifacts/publish/linux-x64" >> "$AIFACTORY_TEST_ENV"

set -a
# shellcheck disable=SC1090
. "$AIFACTORY_TEST_ENV"
set +a

echo "== dotnet test"
results=$root/artifacts/test-results
rm -rf "$results"
status=0
dotnet test AiFactory.Agent.sln -c Release --nologo --logger "trx" --results-directory "$results" \
  --logger "console;verbosity=normal" "$@" 2>&1 | tee artifacts/test-output.log || status=$?

# One closing line over every test assembly, from the runner's own per-assembly summaries.
awk '
  /^(Passed|Failed)! +- Failed: / {
    gsub(/,/, ""); for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
  END { printf "\nTest summary: %d passed, %d failed, %d skipped\n", p, f, s }
' artifacts/test-output.log
exit $status
