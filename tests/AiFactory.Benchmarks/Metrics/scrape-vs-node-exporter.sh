#!/usr/bin/env bash
# Side by side, in one run: the agent's /metrics against Debian's prometheus-node-exporter on this machine.
# All listen on free loopback ports; each is scraped N times over one keep-alive connection (curl), and we report
# per-scrape latency (p50/p99/max), CPU per scrape (utime+stime of the process across the run / N), RSS once up and
# idle (before the scrapes) and again SETTLE seconds later, RSS after the run and again SETTLE seconds later, peak RSS,
# series and bytes per scrape. The load average is printed
# before and after: on a shared machine it bounds what the latency tails mean.
#
#   tests/AiFactory.Benchmarks/Metrics/scrape-vs-node-exporter.sh [N]        (default N=500)
#
# The agent builds measured, one row each, one after the other against the same node-exporter process:
#   native AOT  $AIFACTORY_PUBLISH_DIR/aifactory-agent, else artifacts/publish/linux-x64/aifactory-agent
#               (tools/publish-aot.sh linux-x64 writes it)
#   JIT         the newest agent/AiFactory.Agent/bin/{Release,Debug}/*/aifactory-agent.dll (dotnet build)
# AGENT_BUILDS="aot jit" (the default) picks which of them; a build that is not there is skipped, at least one must be.
# The agent runs with the DOTNET_* settings of the systemd unit (Environment= lines of
# packaging/common/aifactory-agent.service), as the package runs it; AGENT_UNIT_ENV=0 leaves them out.
# Extra agent flags (a hardware fixture, the fake NVML) go in AGENT_ARGS, e.g.
#   AGENT_ARGS="--sysfs-root /tmp/fx/dgx-h100/sys --procfs-root /tmp/fx/dgx-h100/proc --nvml-library /path/libnvidia-ml.so.1"
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-500}
# RSS is read twice each time: at once, and SETTLE seconds later (both exporters give memory back when idle: Go's
# scavenger, the agent's idle-trim, default 5 s).
settle=${SETTLE:-12}
BENCH_NAME=aifactory-metrics-bench
# shellcheck source=bench-common.sh
. tests/AiFactory.Benchmarks/Metrics/bench-common.sh

publish=${AIFACTORY_PUBLISH_DIR:-artifacts/publish/linux-x64}
dll=$(ls -t agent/AiFactory.Agent/bin/Release/*/aifactory-agent.dll agent/AiFactory.Agent/bin/Debug/*/aifactory-agent.dll 2>/dev/null | head -n 1 || true)
builds=()
for b in ${AGENT_BUILDS:-aot jit}; do
  case $b in
    aot) if [ -x "$publish/aifactory-agent" ]; then builds+=(aot); else echo "skipped: no native AOT agent in $publish (tools/publish-aot.sh linux-x64)" >&2; fi ;;
    jit) if [ -n "$dll" ]; then builds+=(jit); else echo "skipped: no JIT agent build (dotnet build agent/AiFactory.Agent -c Release)" >&2; fi ;;
    *) echo "AGENT_BUILDS: unknown build '$b' (aot, jit)" >&2; exit 2 ;;
  esac
done
[ "${#builds[@]}" -gt 0 ] || { echo "no agent build to measure" >&2; exit 1; }
if [ "${AGENT_UNIT_ENV:-1}" = 0 ]; then unit_env=(); fi
node_exporter=${AIFACTORY_NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}
[ -x "$node_exporter" ] || { echo "prometheus-node-exporter missing: run tests/setup.d/50-prometheus.sh" >&2; exit 1; }

ne_port=$(free_port)
"$node_exporter" --web.listen-address="127.0.0.1:$ne_port" > "$work/node-exporter.log" 2>&1 &
ne_pid=$!; pids+=("$ne_pid")

wait_up "http://127.0.0.1:$ne_port/metrics"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }

measure() { # name pid url
  local name=$1 pid=$2 url=$3 key=${1//[^a-zA-Z0-9-]/_} idle idle_settled rss settled
  local cfg="$work/$key.curl"
  idle=$(rss_kib "$pid" VmRSS)
  sleep "$settle"
  idle_settled=$(rss_kib "$pid" VmRSS)
  : > "$cfg"
  for _ in $(seq 1 "$n"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >> "$cfg"; done
  curl -s -H 'Accept: text/plain;version=0.0.4' -o /dev/null "$url"   # warm-up
  for _ in $(seq 1 20); do curl -s -H 'Accept: text/plain;version=0.0.4' -o /dev/null "$url"; done
  local before after
  before=$(cpu_ticks "$pid")
  curl -s -H 'Accept: text/plain;version=0.0.4' -w '%{time_total}\n' -K "$cfg" > "$work/$key.times"
  after=$(cpu_ticks "$pid")
  rss=$(rss_kib "$pid" VmRSS)
  sleep "$settle"
  settled=$(rss_kib "$pid" VmRSS)
  local body series bytes
  body=$(curl -s -H 'Accept: text/plain;version=0.0.4' "$url")
  series=$(printf '%s\n' "$body" | grep -vc '^#' || true)
  bytes=$(printf '%s' "$body" | wc -c)
  python3 - "$name" "$work/$key.times" "$before" "$after" "$n" "$idle" "$idle_settled" "$rss" "$settled" "$(rss_kib "$pid" VmHWM)" "$series" "$bytes" "$(getconf CLK_TCK)" <<'PY'
import sys
name, path, before, after, n, idle, idle_settled, rss, settled, hwm, series, size, tck = sys.argv[1:]
t = sorted(float(x) * 1000 for x in open(path) if x.strip())
def pct(p): return t[min(len(t) - 1, int(round(p / 100 * (len(t) - 1))))]
cpu = (int(after) - int(before)) * 1000 / int(tck) / int(n)
print(f"| {name} | {len(t)} | {pct(50):.2f} | {pct(99):.2f} | {t[-1]:.2f} | {cpu:.2f} | {int(idle)/1024:.1f} | {int(idle_settled)/1024:.1f} | {int(rss)/1024:.1f} | {int(settled)/1024:.1f} | {int(hwm)/1024:.1f} | {series} | {int(size)/1024:.1f} |")
PY
}

# Starts one agent build, measures it, stops it (so the builds do not compete with each other for the CPUs).
run_agent() { # aot|jit
  local cmd label port pid
  if [ "$1" = aot ]; then cmd=("$publish/aifactory-agent"); label="aifactory-agent (native AOT)"
  else cmd=(dotnet "$dll"); label="aifactory-agent (JIT)"; fi
  port=$(free_port)
  # shellcheck disable=SC2086
  env "${unit_env[@]}" "${cmd[@]}" --socket "$work/agent-$1.sock" --state-dir "$work/state-$1" --metrics-listen "127.0.0.1:$port" \
    --log-level warning ${AGENT_ARGS:-} > "$work/agent-$1.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_up "http://127.0.0.1:$port/metrics"
  sleep 2   # let the first discovery and the start-up work finish: "idle RSS" is the daemon at rest
  measure "$label" "$pid" "http://127.0.0.1:$port/metrics"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "agents: ${builds[*]} (AOT: $publish/aifactory-agent$([ -f "$publish/BUILD-INFO" ] && printf ', %s' "$(tr '\n' ' ' < "$publish/BUILD-INFO")"); JIT: ${dll:-none}), flags: ${AGENT_ARGS:-(none)}, environment from the unit: ${unit_env[*]:-(none)}"
echo "node exporter: $("$node_exporter" --version 2>&1 | head -n 1)"
echo "machine: $(nproc) CPUs, $(uname -r); $n scrapes each over one keep-alive connection (curl), text format 0.0.4"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo
echo "| exporter | scrapes | p50 ms | p99 ms | max ms | CPU ms/scrape | idle RSS MiB | idle, ${settle} s later | RSS after MiB | after, ${settle} s later | peak RSS MiB | series | KiB/scrape |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for b in "${builds[@]}"; do run_agent "$b"; done
measure node-exporter "$ne_pid" "http://127.0.0.1:$ne_port/metrics"
echo
echo "load after: $(uptime | sed 's/.*load average/load average/')"
