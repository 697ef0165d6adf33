#!/usr/bin/env bash
# The Health/Check benchmark of docs/benchmarks/grpc.md, side by side in one run: the AOT agent and a
# @grpc/grpc-js server (tests/interop/server.js) answering the same method, each driven by
#   1. grpc-load (tools/bench/grpc-load: our C# client, native AOT like the agent) in closed loop, 64 callers, over
#      the Unix socket and TCP h2c: capacity (throughput) and latency at saturation; and 1 caller over the Unix
#      socket: the latency of one call alone;
#   2. h2load (Debian nghttp2-client) over TCP h2c: throughput from a client that is not ours (64 streams), and
#      one stream at a time: the latency of one call alone from a C client, to set against grpc-load's 1 caller;
#   3. grpc-load in open loop over the Unix socket, 64 callers, at each offered rate of RATES (calls/s in all, on a
#      fixed schedule, latency from each call's due time): latency below saturation. Each rate is also printed as a
#      fraction of the closed-loop capacity each server showed over the Unix socket in this run.
# Each grpc-load line ends with client_cpu and server_cpu: the client's and the server's CPU time (user + system)
# per answered call over that run, warm-up included; on shared cores a latency says little, CPU per call more.
# The one-caller run and each open-loop rate are measured twice in a row against the same server: with our client
# (GrpcChannel on SocketsHttpHandler, lines "unix1" and "open") and with grpc-load --client raw, HTTP/2 written by
# hand on the socket, one connection, the C# counterpart of h2load (lines "unix1-raw" and "open-raw", whose result
# carries client=raw): the difference between the two is client cost, not server cost.
#
#   tools/bench/grpc-health.sh [publish-dir]    (default artifacts/publish/linux-x64; run tools/publish-aot.sh first)
#
# Env: CALLERS (64), SECONDS_PER_RUN (10), REQUESTS for h2load (200000), ROUNDS (2: each pair is measured twice,
# alternating), RATES ("2000 5000 10000 20000"; empty: no open-loop rounds), OPEN_SECONDS (5, per rate and server),
# OPEN_ROUNDS (2), LOAD_JIT (unset; 1: run grpc-load under the JIT, dotnet build, instead of publishing it as AOT),
# GRPC_LOAD (unset; the path of an already published grpc-load to use instead of publishing one), RAW_CLIENT (1; 0: no
# --client raw runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
publish=${1:-$root/artifacts/publish/linux-x64}
callers=${CALLERS:-64}
seconds=${SECONDS_PER_RUN:-10}
requests=${REQUESTS:-200000}
rounds=${ROUNDS:-2}
rates=${RATES-2000 5000 10000 20000}
open_seconds=${OPEN_SECONDS:-5}
open_rounds=${OPEN_ROUNDS:-2}
raw_client=${RAW_CLIENT:-1}
work=$(mktemp -d /tmp/aifactory-grpc-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The load client: native AOT for the agent's framework and RID (BUILD-INFO of tools/publish-aot.sh), so that its JIT
# and tiering do not sit in the tail on cores it shares with the server; LOAD_JIT=1 for the Release JIT build.
if [ -n "${GRPC_LOAD:-}" ]; then
  load() { "$GRPC_LOAD" "$@"; }
  load_kind="$GRPC_LOAD"
elif [ "${LOAD_JIT:-}" = 1 ]; then
  dotnet build "$root/tools/bench/grpc-load/grpc-load.csproj" -c Release --nologo -v quiet -o "$work/load" >/dev/null
  load() { dotnet "$work/load/grpc-load.dll" "$@"; }
  load_kind=jit
else
  tfm=$(sed -n 's/^target_framework=//p' "$publish/BUILD-INFO" 2>/dev/null || true)
  rid=$(sed -n 's/^runtime_identifier=//p' "$publish/BUILD-INFO" 2>/dev/null || true)
  dotnet publish "$root/tools/bench/grpc-load/grpc-load.csproj" -c Release -r "${rid:-linux-x64}" --nologo -v quiet \
    -p:PublishAot=true -p:AiFactoryTargetFramework="${tfm:-net10.0}" -o "$work/load" >/dev/null
  load() { "$work/load/grpc-load" "$@"; }
  load_kind="native AOT ${tfm:-net10.0}"
fi

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
node_pid=$!

for _ in $(seq 100); do [ -S "$work/agent.sock" ] && [ -S "$work/grpcjs.sock" ] && break; sleep 0.1; done
sleep 1

# The request body: a 5-byte frame header and an empty HealthCheckRequest (0 bytes).
printf '\x00\x00\x00\x00\x00' > "$work/check.bin"

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); agent $("$publish/aifactory-agent" --version 2>/dev/null | head -1); node $(node --version); grpc-load $load_kind"
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$1/status"; }
# The server's CPU time (user + system, clock ticks) around each grpc-load run, over every call the client had
# answered (all_calls, warm-up included): server_cpu, CPU per call, beside the client's own client_cpu.
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() {
  local pid=$1 before after line calls
  shift
  before=$(cpu_ticks "$pid")
  line=$(load "$@")
  after=$(cpu_ticks "$pid")
  calls=$(sed -n 's/.* all_calls=\([0-9]*\).*/\1/p' <<<"$line")
  echo "$line server_cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="${calls:-0}" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else printf "?" }')us/call"
}
echo "# agent RSS before: $(rss "$agent_pid")"
declare -A capacity_sum=([agent]=0 [grpcjs]=0)
for round in $(seq "$rounds"); do
  echo "## round $round, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for target in agent grpcjs; do
    sock=$work/agent.sock; port=$agent_port; pid=$agent_pid
    [ "$target" = grpcjs ] && { sock=$work/grpcjs.sock; port=$node_port; pid=$node_pid; }
    line=$(measure "$pid" --unix "$sock" --callers "$callers" --seconds "$seconds")
    echo "$target unix  $line"
    capacity_sum[$target]=$(( capacity_sum[$target] + $(sed -n 's/.* throughput=\([0-9]*\)\/s.*/\1/p' <<<"$line") ))
    echo "$target unix1 $(measure "$pid" --unix "$sock" --callers 1 --seconds "$seconds")"
    if [ "$raw_client" = 1 ]; then
      echo "$target unix1-raw $(measure "$pid" --unix "$sock" --callers 1 --seconds "$seconds" --client raw)"
    fi
    echo "$target tcp   $(measure "$pid" --tcp "127.0.0.1:$port" --callers "$callers" --seconds "$seconds")"
    if command -v h2load >/dev/null; then
      out=$(h2load -n "$requests" -c 4 -m 16 -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/check.bin" \
        "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>&1)
      echo "$target h2load -c4 -m16: $(grep -E '^finished in' <<<"$out") | $(grep -E '^requests:' <<<"$out") | $(grep -E 'time for request:' <<<"$out" | tr -s ' ')"
      out=$(h2load -n $(( requests / 10 )) -c 1 -m 1 -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/check.bin" \
        "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>&1)
      echo "$target h2load -c1 -m1:  $(grep -E '^finished in' <<<"$out") | $(grep -E '^requests:' <<<"$out" | cut -d, -f4-5) | $(grep -E 'time for request:' <<<"$out" | tr -s ' ')"
    fi
  done
done

# Open loop: the same rates for both servers, alternating, each rate also as a fraction of each server's capacity
# (the mean closed-loop Unix-socket throughput above).
if [ -n "$rates" ]; then
  cap_agent=$(( capacity_sum[agent] / rounds )); cap_grpcjs=$(( capacity_sum[grpcjs] / rounds ))
  echo "# closed-loop capacity over the Unix socket, mean of $rounds rounds: agent ${cap_agent}/s, grpcjs ${cap_grpcjs}/s"
  for round in $(seq "$open_rounds"); do
    echo "## open loop, round $round, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for rate in $rates; do
      for target in agent grpcjs; do
        sock=$work/agent.sock; cap=$cap_agent; pid=$agent_pid
        [ "$target" = grpcjs ] && { sock=$work/grpcjs.sock; cap=$cap_grpcjs; pid=$node_pid; }
        fraction=$(awk -v r="$rate" -v c="$cap" 'BEGIN { if (c > 0) printf "%.2f", r / c; else print "?" }')
        echo "$target open $rate/s (${fraction} of its capacity) $(measure "$pid" --unix "$sock" --callers "$callers" --rate "$rate" --seconds "$open_seconds" --warmup 1)"
        if [ "$raw_client" = 1 ]; then
          echo "$target open-raw $rate/s (${fraction} of its capacity) $(measure "$pid" --unix "$sock" --callers "$callers" --rate "$rate" --seconds "$open_seconds" --warmup 1 --client raw)"
        fi
      done
    done
  done
fi
echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# agent RSS after: $(rss "$agent_pid")"
