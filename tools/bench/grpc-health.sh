#!/usr/bin/env bash
# The Health/Check benchmark of docs/benchmarks/grpc.md, side by side in one run: the AOT agent and a
# @grpc/grpc-js server (tests/interop/server.js) answering the same method, each driven by
#   1. grpc-load (tools/bench/grpc-load: our C# client, closed loop, 64 callers) over the Unix socket and TCP h2c:
#      throughput and p50/p90/p99 latency;
#   2. h2load (Debian nghttp2-client) over TCP h2c: throughput from a client that is not ours.
#
#   tools/bench/grpc-health.sh [publish-dir]    (default artifacts/publish/linux-x64; run tools/publish-aot.sh first)
#
# Env: CALLERS (64), SECONDS (10), REQUESTS for h2load (200000), ROUNDS (2: each pair is measured twice, alternating).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
publish=${1:-$root/artifacts/publish/linux-x64}
callers=${CALLERS:-64}
seconds=${SECONDS_PER_RUN:-10}
requests=${REQUESTS:-200000}
rounds=${ROUNDS:-2}
work=$(mktemp -d /tmp/aifactory-grpc-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The load client (Release, JIT).
dotnet build "$root/tools/bench/grpc-load/grpc-load.csproj" -c Release --nologo -v quiet -o "$work/load" >/dev/null
load() { dotnet "$work/load/grpc-load.dll" "$@"; }

# A fixture tree so that the agent reads no real /sys.
"$root/tools/fixture.sh" unpack workstation "$work/fixture" >/dev/null

agent_port=$(free_port)
"$publish/aifactory-agent" --socket "$work/agent.sock" --state-dir "$work/state" --sysfs-root "$work/fixture/sys" \
  --procfs-root "$work/fixture/proc" --metrics-listen off --listen "127.0.0.1:$agent_port" --listen-plaintext true \
  --log-level warning > "$work/agent.log" 2>&1 &
pids+=($!)
agent_pid=$!

node_port=$(free_port)
(cd "$root/tests/interop" && exec node server.js --unix "$work/grpcjs.sock" --tcp "127.0.0.1:$node_port" < <(sleep infinity)) > "$work/node.log" 2>&1 &
pids+=($!)

for _ in $(seq 100); do [ -S "$work/agent.sock" ] && [ -S "$work/grpcjs.sock" ] && break; sleep 0.1; done
sleep 1

# The request body: a 5-byte frame header and an empty HealthCheckRequest (0 bytes).
printf '\x00\x00\x00\x00\x00' > "$work/check.bin"

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); agent $("$publish/aifactory-agent" --version 2>/dev/null | head -1); node $(node --version)"
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$1/status"; }
echo "# agent RSS before: $(rss "$agent_pid")"
for round in $(seq "$rounds"); do
  echo "## round $round"
  for target in agent grpcjs; do
    sock=$work/agent.sock; port=$agent_port
    [ "$target" = grpcjs ] && { sock=$work/grpcjs.sock; port=$node_port; }
    echo "$target unix  $(load --unix "$sock" --callers "$callers" --seconds "$seconds")"
    echo "$target tcp   $(load --tcp "127.0.0.1:$port" --callers "$callers" --seconds "$seconds")"
    if command -v h2load >/dev/null; then
      out=$(h2load -n "$requests" -c 4 -m 16 -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/check.bin" \
        "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>&1)
      echo "$target h2load -c4 -m16: $(grep -E '^finished in' <<<"$out") | $(grep -E '^requests:' <<<"$out") | $(grep -E 'time for request:' <<<"$out" | tr -s ' ')"
    fi
  done
done
echo "# agent RSS after: $(rss "$agent_pid")"
