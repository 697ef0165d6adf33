#!/usr/bin/env bash
# Discovery's reference tool: hwloc (lstopo-no-graphics) reads the same fixture trees in
# tests/AiFactory.Host.Hardware.Tests/Discovery/HwlocAgreementTests.cs. hyperfine is for docs/benchmarks/discovery.md.
# Idempotent; about 5 s when the packages are already there, ~20 s to install.
set -euo pipefail
if ! command -v lstopo-no-graphics >/dev/null || ! command -v hyperfine >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    flock /tmp/aifactory-apt.lock apt-get install -y --no-install-recommends hwloc-nox hyperfine
  else
    echo "30-hwloc: not root; install hwloc-nox yourself" >&2
  fi
fi
lstopo-no-graphics --version
# The fixtures must unpack with the shell tool too (tools/demo.sh uses it).
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
for f in $(tools/fixture.sh list); do tools/fixture.sh unpack "$f" "$tmp/$f"; done
rm -rf "$tmp"
