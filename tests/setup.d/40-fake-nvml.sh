#!/usr/bin/env bash
# Builds the fake libnvidia-ml.so.1 (tests/fake-nvml, C) that the GPU tests and the demo load through
# --nvml-library, and tells the tests where it is (AIFACTORY_FAKE_NVML). Costs about a second with gcc present.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v gcc >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    flock /tmp/aifactory-apt.lock apt-get install -y --no-install-recommends gcc libc6-dev
  else
    echo "40-fake-nvml: gcc is missing and cannot be installed (not root)" >&2
    exit 1
  fi
fi
out=artifacts/fake-nvml
mkdir -p "$out"
gcc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
  -o "$out/libnvidia-ml.so.1.tmp" tests/fake-nvml/fake_nvml.c tests/fake-nvml/json.c -lpthread
mv "$out/libnvidia-ml.so.1.tmp" "$out/libnvidia-ml.so.1"
echo "40-fake-nvml: built $out/libnvidia-ml.so.1 (SIMULATED GPUs for tests and demos)"
if [ -n "${AIFACTORY_TEST_ENV:-}" ]; then
  echo "AIFACTORY_FAKE_NVML=$(pwd)/$out/libnvidia-ml.so.1" >> "$AIFACTORY_TEST_ENV"
fi
