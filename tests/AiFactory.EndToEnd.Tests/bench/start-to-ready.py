#!/usr/bin/env python3
"""Start-to-READY and resident set of aifactory-agent, measured the way systemd sees the daemon.

For each run: bind a datagram socket as $NOTIFY_SOCKET, take a monotonic timestamp, start the agent (on an
empty fixture-like tree in a temp dir, metrics off), wait for the READY=1 datagram, take the second timestamp,
read VmRSS/VmHWM from /proc/PID/status, then SIGTERM it and wait for it to exit. Prints every run and the median.

  start-to-ready.py AGENT_BINARY [RUNS] [-- extra agent args]
  AIFACTORY_BENCH_ENV="DOTNET_GCgen0size=0x400000 ..." adds environment variables for the agent.
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

def one_run(binary, extra, env_extra):
    with tempfile.TemporaryDirectory(prefix="aifactory-bench-") as d:
        for sub in ("sys/bus/pci/devices", "sys/devices/system/cpu", "proc", "run"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        # The least the agent accepts as a sysfs tree: the online CPUs (else it exits 66).
        with open(os.path.join(d, "sys/devices/system/cpu/online"), "w") as f:
            f.write("0\n")
        open(os.path.join(d, "agent.yaml"), "w").close()
        notify = os.path.join(d, "notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(notify)
        s.settimeout(30)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIFACTORY_")}
        env["NOTIFY_SOCKET"] = notify
        env.update(env_extra)
        args = [binary, "--config", f"{d}/agent.yaml", "--sysfs-root", f"{d}/sys", "--procfs-root", f"{d}/proc",
                "--state-dir", f"{d}/state", "--socket", f"{d}/run/agent.sock", "--metrics-listen", "off"] + extra
        t0 = time.monotonic()
        p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                msg = s.recv(4096).decode()
                if msg.startswith("READY=1"):
                    break
            t1 = time.monotonic()
            time.sleep(0.2)  # let start-up work that follows READY settle before reading the resident set
            status = open(f"/proc/{p.pid}/status").read()
            rss = int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1])
            hwm = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1])
            p.send_signal(signal.SIGTERM)
            t2 = time.monotonic()
            code = p.wait(30)
            t3 = time.monotonic()
            return (t1 - t0) * 1000, rss / 1024, hwm / 1024, (t3 - t2) * 1000, code
        finally:
            if p.poll() is None:
                p.kill()
            s.close()

def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    binary = argv[0]
    runs = int(argv[1]) if len(argv) > 1 else 20
    env_extra = dict(kv.split("=", 1) for kv in os.environ.get("AIFACTORY_BENCH_ENV", "").split())
    results = []
    for i in range(runs):
        r = one_run(binary, extra, env_extra)
        results.append(r)
        print(f"run {i + 1:2d}: READY after {r[0]:7.1f} ms  VmRSS {r[1]:5.1f} MiB  VmHWM {r[2]:5.1f} MiB  SIGTERM->exit {r[3]:6.1f} ms  status {r[4]}")
    ready = [r[0] for r in results]
    print(f"start->READY ms: median {statistics.median(ready):.1f}  min {min(ready):.1f}  max {max(ready):.1f}  (n={runs})")
    print(f"VmRSS MiB after READY: median {statistics.median([r[1] for r in results]):.1f}  "
          f"VmHWM median {statistics.median([r[2] for r in results]):.1f}")
    print(f"SIGTERM->exit ms: median {statistics.median([r[3] for r in results]):.1f}; exit statuses {sorted(set(r[4] for r in results))}")

if __name__ == "__main__":
    main()
