#!/usr/bin/env bash
# The resident set of the agent and of Debian's prometheus-node-exporter as a Prometheus server sees them: both
# running at once, each scraped once every INTERVAL seconds (default 15, Prometheus's usual scrape_interval) for
# DURATION seconds (default 180), VmRSS of each read every second. Prints, per exporter, the mean, median, minimum and
# maximum over the run, and in how many seconds (and which not) the agent held less than node-exporter.
#
#   tests/AiFactory.Benchmarks/Metrics/rss-under-periodic-scrapes.sh
#   INTERVAL=15 DURATION=180 AGENT_ARGS="--sysfs-root … --procfs-root … --nvml-library …" (as scrape-vs-node-exporter.sh)
#
# The agent is $AIFACTORY_PUBLISH_DIR/aifactory-agent (default artifacts/publish/linux-x64) with the DOTNET_* settings
# of the systemd unit. Both are scraped within the same second, agent first; the first scrape of each happens once
# both answer, as a Prometheus server's would.
set -euo pipefail
cd "$(dirname "$0")/../../.."
interval=${INTERVAL:-15}
duration=${DURATION:-180}
publish=${AIFACTORY_PUBLISH_DIR:-artifacts/publish/linux-x64}
node_exporter=${AIFACTORY_NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}
[ -x "$publish/aifactory-agent" ] || { echo "no native AOT agent in $publish (tools/publish-aot.sh linux-x64)" >&2; exit 1; }
[ -x "$node_exporter" ] || { echo "prometheus-node-exporter missing: run tests/setup.d/50-prometheus.sh" >&2; exit 1; }
BENCH_NAME=aifactory-rss-periodic
# shellcheck source=bench-common.sh
. tests/AiFactory.Benchmarks/Metrics/bench-common.sh

ne_port=$(free_port)
"$node_exporter" --web.listen-address="127.0.0.1:$ne_port" > "$work/node-exporter.log" 2>&1 &
ne_pid=$!; pids+=("$ne_pid")
ag_port=$(free_port)
# shellcheck disable=SC2086
env "${unit_env[@]}" "$publish/aifactory-agent" --socket "$work/agent.sock" --state-dir "$work/state" \
  --metrics-listen "127.0.0.1:$ag_port" --log-level warning ${AGENT_ARGS:-} > "$work/agent.log" 2>&1 &
ag_pid=$!; pids+=("$ag_pid")
wait_up "http://127.0.0.1:$ag_port/metrics"
wait_up "http://127.0.0.1:$ne_port/metrics"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo "agent: $publish/aifactory-agent ($(tr '\n' ' ' < "$publish/BUILD-INFO" 2>/dev/null)), environment from the unit: ${unit_env[*]:-(none)}"
echo "node exporter: $("$node_exporter" --version 2>&1 | head -n 1)"
echo "scraped every ${interval} s for ${duration} s, VmRSS read every second; load before: $(uptime | sed 's/.*load average/load average/')"
start=$(date +%s)
: > "$work/samples"
for ((t = 0; t < duration; t++)); do
  if (( t % interval == 0 )); then
    curl -s -H 'Accept: text/plain;version=0.0.4' -o /dev/null "http://127.0.0.1:$ag_port/metrics"
    curl -s -H 'Accept: text/plain;version=0.0.4' -o /dev/null "http://127.0.0.1:$ne_port/metrics"
  fi
  echo "$(rss "$ag_pid") $(rss "$ne_pid")" >> "$work/samples"
  sleep $(( start + t + 1 - $(date +%s) > 0 ? start + t + 1 - $(date +%s) : 0 ))
done
python3 - "$work/samples" <<'PY'
import statistics, sys
rows = [tuple(int(x) / 1024 for x in line.split()) for line in open(sys.argv[1]) if line.strip()]
print()
print("| exporter | samples | mean MiB | median MiB | min MiB | max MiB |")
print("|---|---|---|---|---|---|")
for i, name in enumerate(("aifactory-agent", "node-exporter")):
    v = [r[i] for r in rows]
    print(f"| {name} | {len(v)} | {statistics.mean(v):.1f} | {statistics.median(v):.1f} | {min(v):.1f} | {max(v):.1f} |")
below = sum(1 for a, n in rows if a < n)
print(f"\nagent below node-exporter in {below} of {len(rows)} seconds; not below at second(s) "
      + (", ".join(str(t) for t, (a, n) in enumerate(rows) if a >= n) or "none"))
PY
echo "load after: $(uptime | sed 's/.*load average/load average/')"
