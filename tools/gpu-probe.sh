#!/usr/bin/env bash
# Read-only check of the agent on a real GPU server: what it discovers and what NVML tells it, next to what
# nvidia-smi says. Changes nothing: no MIG mode, clocks, persistence or driver binding; the daemon runs with
# --read-only on a private state dir and socket, and is stopped at the end.
#
#   tools/gpu-probe.sh [OUT_DIR]       (default /tmp/aifactory-gpu-probe; needs artifacts/publish/linux-x64)
#
# Writes OUT_DIR/report.txt (every command and its output), discover.json, inventory.json, metrics.prom,
# agent.log and capture.ttar (the machine as a fixture archive, redacted as capture-fixture does).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${AIFACTORY_PUBLISH_DIR:-artifacts/publish/linux-x64}
out=${1:-/tmp/aifactory-gpu-probe}
mkdir -p "$out"
work=$(mktemp -d)
report="$out/report.txt"
: > "$report"
agent_pid=

cleanup() {
  if [[ -n $agent_pid ]] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"
    wait "$agent_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

run() {
  { echo; echo "\$ $*"; } >> "$report"
  local started=$(date +%s%N)
  "$@" >> "$report" 2>&1
  local rc=$?
  echo "[exit $rc, $(( ($(date +%s%N) - started) / 1000000 )) ms]" >> "$report"
  return 0
}

run date -u
run uname -a
run cat "$bin/BUILD-INFO"
run nvidia-smi -L
run nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,memory.total,memory.used,mig.mode.current,persistence_mode,temperature.gpu,power.draw,clocks.sm,clocks.mem,ecc.errors.uncorrected.volatile.total,pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max --format=csv
run nvidia-smi topo -m
run nvidia-smi mig -lgip
run nvidia-smi mig -lgi
run nvidia-smi -q
run lscpu
run cat /sys/devices/system/node/online

run "$bin/aifactory-agent" --version
run "$bin/aifactory-agent" discover
"$bin/aifactory-agent" discover --json > "$out/discover.json" 2>> "$report"
echo "discover --json: exit $?, $(wc -c < "$out/discover.json") bytes" >> "$report"
run "$bin/aifactory-agent" capture-fixture --out "$out/capture.ttar"

# The daemon, read-only, on a private socket and state dir; metrics on loopback.
port=19400
env -u NOTIFY_SOCKET "$bin/aifactory-agent" --read-only true --state-dir "$work/state" --socket "$work/agent.sock" \
  --metrics-listen "127.0.0.1:$port" --log-level debug > "$out/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do [[ -S $work/agent.sock ]] && break; sleep 0.1; done
ctl=("$bin/aifactoryctl" --socket "$work/agent.sock")
run "${ctl[@]}" health
run "${ctl[@]}" version
run "${ctl[@]}" gpu list
run "${ctl[@]}" --json gpu list
run "${ctl[@]}" mig show 0
run "${ctl[@]}" --json mig show 0
run "${ctl[@]}" topology
run "${ctl[@]}" profile get
run "${ctl[@]}" lease show
"${ctl[@]}" --json topology --inventory > "$out/inventory.json" 2>> "$report"
if command -v curl >/dev/null; then
  curl -s "http://127.0.0.1:$port/metrics" > "$out/metrics.prom"
else
  python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics').read().decode())" > "$out/metrics.prom"
fi
echo "metrics: $(grep -vc '^#' "$out/metrics.prom") samples" >> "$report"
run grep -c "^DCGM_FI_DEV" "$out/metrics.prom"
kill -TERM "$agent_pid"
wait "$agent_pid"
echo "agent exit status after SIGTERM: $?" >> "$report"
agent_pid=
echo "probe written to $out"
