#!/usr/bin/env bash
# The reference gRPC peer for the interoperability tests and the gRPC benchmark: @grpc/grpc-js and
# @grpc/proto-loader from npm (tests/interop, locked by package-lock.json), and h2load (Debian nghttp2-client)
# for docs/benchmarks/grpc.md. Idempotent; about 5 s when the npm cache is warm.
set -euo pipefail
cd "$(dirname "$0")/../interop"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    flock /tmp/aifactory-apt.lock apt-get install -y --no-install-recommends nodejs npm
  else
    echo "20-node.sh: node and npm are needed for the gRPC interop tests (Node 18 or later)" >&2
    exit 1
  fi
fi

node --version
if [ ! -d node_modules/@grpc/grpc-js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# h2load drives the benchmark only; the tests do not need it, so a failure here is not fatal.
if ! command -v h2load >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  flock /tmp/aifactory-apt.lock apt-get install -y --no-install-recommends nghttp2-client || echo "20-node.sh: h2load not installed (benchmarks only)"
fi
