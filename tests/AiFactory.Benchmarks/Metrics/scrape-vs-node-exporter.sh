#!/usr/bin/env bash
# Side by side, in one run: the agent's /metrics against Debian's prometheus-node-exporter on this machine.
# Both listen on free loopback ports; each is scraped N times over one keep-alive connection (curl), and we report
# per-scrape latency (p50/p99/max), CPU per scrape (utime+stime of the process across the run / N), RSS after the
# run, peak RSS, series and bytes per scrape.
#
#   tests/AiFactory.Benchmarks/Metrics/scrape-vs-node-exporter.sh [N]        (default N=500)
#
# The agent binary: $AIFACTORY_PUBLISH_DIR/aifactory-agent (AOT, as tools/publish-aot.sh writes it), else
# artifacts/publish/linux-x64/aifactory-agent, else the JIT build (dotnet aifactory-agent.dll; build it first).
# Extra agent flags (a hardware fixture, the fake NVML) go in AGENT_ARGS, e.g.
#   AGENT_ARGS="--sysfs-root /tmp/fx/dgx-h100/sys --procfs-root /tmp/fx/dgx-h100/proc --nvml-library /path/libnvidia-ml.so.1"
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-500}
work=$(mktemp -d /tmp/aifactory-metrics-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

publish=${AIFACTORY_PUBLISH_DIR:-artifacts/publish/linux-x64}
if [ -x "$publish/aifactory-agent" ]; then
  agent=("$publish/aifactory-agent"); agent_kind="native AOT ($publish)"
else
  dll=$(ls -t agent/AiFactory.Agent/bin/Release/*/aifactory-agent.dll agent/AiFactory.Agent/bin/Debug/*/aifactory-agent.dll 2>/dev/null | head -n 1 || true)
  [ -n "$dll" ] || { echo "no agent build: run tools/publish-aot.sh or dotnet build agent/AiFactory.Agent" >&2; exit 1; }
  agent=(dotnet "$dll"); agent_kind="JIT ($dll)"
fi
node_exporter=${AIFACTORY_NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}
[ -x "$node_exporter" ] || { echo "prometheus-node-exporter missing: run tests/setup.d/50-prometheus.sh" >&2; exit 1; }

agent_port=$(free_port)
ne_port=$(free_port)
# shellcheck disable=SC2086
"${agent[@]}" --socket "$work/agent.sock" --state-dir "$work/state" --metrics-listen "127.0.0.1:$agent_port" \
  --log-level warning ${AGENT_ARGS:-} > "$work/agent.log" 2>&1 &
agent_pid=$!; pids+=("$agent_pid")
"$node_exporter" --web.listen-address="127.0.0.1:$ne_port" > "$work/node-exporter.log" 2>&1 &
ne_pid=$!; pids+=("$ne_pid")

wait_up() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; cat "$work"/*.log >&2; exit 1; }
wait_up "http://127.0.0.1:$agent_port/metrics"
wait_up "http://127.0.0.1:$ne_port/metrics"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }

measure() { # name pid url
  local name=$1 pid=$2 url=$3 cfg="$work/$1.curl"
  : > "$cfg"
  for _ in $(seq 1 "$n"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >> "$cfg"; done
  curl -s -H 'Accept: text/plain;version=0.0.4' -o /dev/null "$url"   # warm-up
  for _ in $(seq 1 20); do curl -s -H 'Accept: text/plain;version=0.0.4' -o /dev/null "$url"; done
  local before after
  before=$(cpu_ticks "$pid")
  curl -s -H 'Accept: text/plain;version=0.0.4' -w '%{time_total}\n' -K "$cfg" > "$work/$name.times"
  after=$(cpu_ticks "$pid")
  local body series bytes
  body=$(curl -s -H 'Accept: text/plain;version=0.0.4' "$url")
  series=$(printf '%s\n' "$body" | grep -vc '^#' || true)
  bytes=$(printf '%s' "$body" | wc -c)
  python3 - "$name" "$work/$name.times" "$before" "$after" "$n" "$(rss_kib "$pid" VmRSS)" "$(rss_kib "$pid" VmHWM)" "$series" "$bytes" "$(getconf CLK_TCK)" <<'PY'
import sys
name, path, before, after, n, rss, hwm, series, size, tck = sys.argv[1:]
t = sorted(float(x) * 1000 for x in open(path) if x.strip())
def pct(p): return t[min(len(t) - 1, int(round(p / 100 * (len(t) - 1))))]
cpu = (int(after) - int(before)) * 1000 / int(tck) / int(n)
print(f"| {name} | {len(t)} | {pct(50):.2f} | {pct(99):.2f} | {t[-1]:.2f} | {cpu:.2f} | {int(rss)/1024:.1f} | {int(hwm)/1024:.1f} | {series} | {int(size)/1024:.1f} |")
PY
}

echo "agent: $agent_kind, flags: ${AGENT_ARGS:-(none)}"
echo "node exporter: $("$node_exporter" --version 2>&1 | head -n 1)"
echo "machine: $(nproc) CPUs, $(uname -r); $n scrapes each over one keep-alive connection (curl), text format 0.0.4"
echo
echo "| exporter | scrapes | p50 ms | p99 ms | max ms | CPU ms/scrape | RSS MiB | peak RSS MiB | series | KiB/scrape |"
echo "|---|---|---|---|---|---|---|---|---|---|"
measure aifactory-agent "$agent_pid" "http://127.0.0.1:$agent_port/metrics"
measure node-exporter "$ne_pid" "http://127.0.0.1:$ne_port/metrics"
