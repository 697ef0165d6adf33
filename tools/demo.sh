#!/usr/bin/env bash
# Builds the agent and the CLI, starts the agent on a hardware fixture (this machine needs no GPU), and shows it
# working through aifactoryctl. The agent always runs with --read-only: it changes nothing on this machine.
#
#   tools/demo.sh [--keep]      --keep leaves the agent running (socket: artifacts/demo/agent.sock)
#
# Without tools/fixture.sh and hardware-fixtures/, it reads this machine's own /sys and /proc (read-only).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDTERMINALLOGGER=off
demo=$root/artifacts/demo
mkdir -p "$demo"
if ! command -v dotnet >/dev/null; then echo "tools/demo.sh: the .NET SDK (dotnet) is not on PATH" >&2; exit 1; fi

echo "== build (Release)"
dotnet build agent/AiFactory.Agent/AiFactory.Agent.csproj -c Release --nologo -v quiet
dotnet build agent/AiFactory.Cli/AiFactory.Cli.csproj -c Release --nologo -v quiet
tfm=$(sed -n 's:.*<AiFactoryTargetFramework Condition=.*>\(net[0-9.]*\)</AiFactoryTargetFramework>.*:\1:p' Directory.Build.props | head -1)
agent=$root/agent/AiFactory.Agent/bin/Release/${tfm:-net10.0}/aifactory-agent
ctlbin=$root/agent/AiFactory.Cli/bin/Release/${tfm:-net10.0}/aifactoryctl
socket=$demo/agent.sock
ctl() { "$ctlbin" --socket "$socket" "$@"; }

sysfs=/sys
procfs=/proc
if [ -x tools/fixture.sh ]; then
  fixture=${AIFACTORY_DEMO_FIXTURE:-dgx-h100}
  rm -rf "$demo/fixture"
  tools/fixture.sh unpack "$fixture" "$demo/fixture"
  sysfs=$demo/fixture/sys
  procfs=$demo/fixture/proc
  echo "== hardware fixture: $fixture (simulated: a captured sysfs tree from hardware-fixtures/)"
else
  echo "== no hardware fixture yet (tools/fixture.sh is missing): reading this machine's /sys and /proc, read-only"
fi

if [ -f "$demo/agent.pid" ] && kill -0 "$(cat "$demo/agent.pid")" 2>/dev/null; then
  kill "$(cat "$demo/agent.pid")"
  for _ in $(seq 1 100); do kill -0 "$(cat "$demo/agent.pid")" 2>/dev/null || break; sleep 0.1; done
fi
# GPUs: with no NVIDIA driver here, the fixture's GPUs are SIMULATED by the fake libnvidia-ml from tests/fake-nvml
# (built with gcc; its driver version reads "...-simulated"). On a real GPU server, drop --nvml-library.
nvml=()
if [ -n "${fixture:-}" ] && [ -f "hardware-fixtures/$fixture/nvml.json" ] && bash tests/setup.d/40-fake-nvml.sh >/dev/null 2>&1; then
  cp "hardware-fixtures/$fixture/nvml.json" "$demo/nvml.json"; : > "$demo/nvml-events"; rm -f "$demo/mig.state"
  export FAKE_NVML_STATE=$demo/nvml.json FAKE_NVML_MIG_STATE=$demo/mig.state FAKE_NVML_EVENTS=$demo/nvml-events FAKE_NVML_SYSFS_ROOT=$sysfs
  nvml=(--nvml-library "$root/artifacts/fake-nvml/libnvidia-ml.so.1")
  echo "== GPUs: SIMULATED by the fake libnvidia-ml (tests/fake-nvml) with hardware-fixtures/$fixture/nvml.json"
fi
echo "== start aifactory-agent --read-only (log: $demo/agent.log)"
: > "$demo/agent.yaml"
"$agent" --config "$demo/agent.yaml" --read-only true --sysfs-root "$sysfs" --procfs-root "$procfs" \
  --state-dir "$demo/state" --socket "$socket" --metrics-listen off "${nvml[@]}" > "$demo/agent.log" 2>&1 &
pid=$!
echo "$pid" > "$demo/agent.pid"
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$demo/agent.pid"; }
for _ in $(seq 1 200); do
  ctl health --timeout 1 >/dev/null 2>&1 && break
  if ! kill -0 "$pid" 2>/dev/null; then echo "the agent exited:"; cat "$demo/agent.log"; exit 1; fi
  sleep 0.1
done

echo "== aifactoryctl health";  ctl health
echo "== aifactoryctl version"; ctl version
# Read-only verbs that later features add; each runs when this build has it.
help=$(ctl --help 2>/dev/null || true)
for verb in "topology" "gpu list" "mig show 0" "profile get" "lease show --all"; do
  first=${verb%% *}
  if grep -qE "^ +$first( |$)" <<<"$help"; then
    echo "== aifactoryctl $verb"
    # shellcheck disable=SC2086
    ctl $verb || echo "(aifactoryctl $verb exited $?)"
  fi
done
echo "== agent log"; cat "$demo/agent.log"

if [ "${1:-}" = "--keep" ]; then
  echo "agent left running (pid $pid); try: $ctlbin --socket $socket health"
else
  stop
fi
