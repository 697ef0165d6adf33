# Sourced by the metrics benchmark scripts (bash, set -euo pipefail, run from the repository root):
#   work       a fresh temp directory, removed on exit
#   pids       processes to stop on exit: append what you start
#   free_port  prints a free loopback TCP port
#   wait_up    waits up to 30 s for URL to answer; else prints the logs in $work and exits 1
#   unit_env   the DOTNET_* settings of the systemd unit (Environment= lines), as the package runs the agent
work=$(mktemp -d "/tmp/${BENCH_NAME:-aifactory-bench}.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; cat "$work"/*.log >&2; exit 1; }

unit_env=()
while IFS= read -r kv; do unit_env+=("$kv"); done < <(sed -n 's/^Environment=\(DOTNET_[A-Za-z0-9_]*=[^ ]*\)$/\1/p' packaging/common/aifactory-agent.service)
