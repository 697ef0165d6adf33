#!/usr/bin/env bash
# The kernel's floor for `discover --json` on a fixture: replay, in C, exactly the file operations one discover
# makes (strace), and its attribute reads alone, and time them side by side with discover itself and with lstopo
# on the same tree.
#
#   tools/bench/discovery-floor/run.sh [FIXTURE (dgx-h100)] [AGENT (artifacts/publish/linux-x64/aifactory-agent)]
#
# Needs strace, gcc, hyperfine, lstopo-no-graphics (tests/setup.d/30-hwloc.sh); with liburing-dev installed it also
# times the reads through io_uring (replay-uring.c). See docs/benchmarks/discovery.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
fixture=${1:-dgx-h100}
agent=$(realpath "${2:-$root/artifacts/publish/linux-x64/aifactory-agent}")
work=$(mktemp -d /tmp/discovery-floor.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$root/tools/fixture.sh" unpack "$fixture" "$work/tree" >/dev/null
gcc -O2 -Wall -pthread -o "$work/replay" "$here/replay.c"
discover="$agent discover --sysfs-root $work/tree/sys --procfs-root $work/tree/proc --json"
strace -f -y -o "$work/discover.strace" $discover >/dev/null
python3 "$here/ops-from-strace.py" "$work/discover.strace" "$work/tree" > "$work/ops.txt"
grep '^R ' "$work/ops.txt" > "$work/reads.txt"    # the attribute reads alone
sort "$work/reads.txt" > "$work/reads-sorted.txt"  # the same, grouped by directory: the least path walking
readers=("$work/replay $work/reads.txt 1" "$work/replay $work/reads.txt 2" "$work/replay $work/reads-sorted.txt relative")
if [ -e /usr/include/liburing.h ]; then
  gcc -O2 -Wall -o "$work/replay-uring" "$here/replay-uring.c" -luring
  readers+=("$work/replay-uring $work/reads.txt 128" "$work/replay-uring $work/reads-sorted.txt 128")
fi
hyperfine -N -w 3 -r "${RUNS:-40}" \
  "$work/replay $work/ops.txt 1" "$work/replay $work/ops.txt 2" "${readers[@]}" "$discover" \
  "env HWLOC_FSROOT=$work/tree HWLOC_COMPONENTS=-x86 lstopo-no-graphics --whole-io --of xml"
