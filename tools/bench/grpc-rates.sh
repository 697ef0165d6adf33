#!/usr/bin/env bash
# One line of Health/Check figures for one fresh agent: 64 callers open loop over the Unix socket at 100, 2 000,
# 5 000 and 10 000 calls/s (p50/p90/p99, and the agent's CPU per call from /proc/PID/stat, warm-up included), then
# the closed-loop throughput. See docs/benchmarks/grpc.md (twelfth session).
#
#   tools/bench/grpc-rates.sh LABEL AGENT [NAME=VALUE ...]     (the NAME=VALUEs go to the agent's environment)
#
# Needs grpc-load published as native AOT at $GRPC_LOAD (default /tmp/gl/grpc-load):
#   dotnet publish tools/bench/grpc-load/grpc-load.csproj -c Release -r linux-x64 -p:PublishAot=true -p:AiFactoryTargetFramework=net10.0 -o /tmp/gl
# and a fixture tree at $FIXTURE (default /tmp/fx: tools/fixture.sh unpack dgx-h100 /tmp/fx).
set -euo pipefail
label=$1 agent=$2
shift 2
load=${GRPC_LOAD:-/tmp/gl/grpc-load}
fx=${FIXTURE:-/tmp/fx}
work=$(mktemp -d)
env "$@" "$agent" --socket "$work/agent.sock" --state-dir "$work/state" --sysfs-root "$fx/sys" --procfs-root "$fx/proc" \
  --metrics-listen off --log-level error &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -S "$work/agent.sock" ] && break; sleep 0.1; done
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
line=$label
for rate in 100 2000 5000 10000; do
  before=$(ticks)
  figures=$("$load" --unix "$work/agent.sock" --client raw --callers 64 --seconds 4 --warmup 1 --rate "$rate" 2>&1 |
    grep -o 'p50=[0-9]*us p90=[0-9]*us p99=[0-9]*us' | head -1)
  after=$(ticks)
  line+=" | r$rate $figures srv=$(( (after - before) * 1000000 / hz / (rate * 5) ))us"
done
line+=" | closed $("$load" --unix "$work/agent.sock" --client raw --callers 64 --seconds 3 --warmup 1 2>&1 | grep -o 'throughput=[0-9]*/s' | head -1)"
echo "$line"
