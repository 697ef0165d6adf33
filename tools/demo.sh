#!/usr/bin/env bash
# Builds the agent and the CLI, starts the agent on a hardware fixture (this machine has no GPU), and shows it
# working through aifactoryctl. The agent runs read-only on the fixture: nothing on this machine is changed.
#
#   tools/demo.sh [--keep]      --keep leaves the agent running (socket: artifacts/demo/agent.sock)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
demo=$root/artifacts/demo
mkdir -p "$demo"
echo "== build"
dotnet build agent/AiFactory.Agent/AiFactory.Agent.csproj -c Release --nologo -v quiet -o "$demo/bin"
dotnet build agent/AiFactory.Cli/AiFactory.Cli.csproj -c Release --nologo -v quiet -o "$demo/bin"
agent=$demo/bin/aifactory-agent
ctl="$demo/bin/aifactoryctl --socket $demo/agent.sock"

sysfs=/sys
procfs=/proc
if [ -x tools/fixture.sh ]; then
  fixture=${AIFACTORY_DEMO_FIXTURE:-dgx-h100}
  tools/fixture.sh unpack "$fixture" "$demo/fixture"
  sysfs=$demo/fixture/sys
  procfs=$demo/fixture/proc
  echo "== hardware fixture: $fixture (simulated: sysfs tree from hardware-fixtures/)"
fi

if [ -f "$demo/agent.pid" ] && kill -0 "$(cat "$demo/agent.pid")" 2>/dev/null; then kill "$(cat "$demo/agent.pid")"; sleep 1; fi
echo "== start aifactory-agent"
"$agent" --sysfs-root "$sysfs" --procfs-root "$procfs" --state-dir "$demo/state" --socket "$demo/agent.sock" \
  --metrics-listen 127.0.0.1:19400 > "$demo/agent.log" 2>&1 &
echo $! > "$demo/agent.pid"
for _ in $(seq 1 100); do [ -S "$demo/agent.sock" ] && break; sleep 0.1; done

echo "== aifactoryctl health";  $ctl health
echo "== aifactoryctl version"; $ctl version
for verb in "topology" "gpu list"; do
  if $ctl $verb --help >/dev/null 2>&1; then echo "== aifactoryctl $verb"; $ctl $verb; fi
done
echo "== agent log"; cat "$demo/agent.log"

if [ "${1:-}" = "--keep" ]; then
  echo "agent left running (pid $(cat "$demo/agent.pid")); try: $ctl health"
else
  kill "$(cat "$demo/agent.pid")"; rm -f "$demo/agent.pid"
fi
