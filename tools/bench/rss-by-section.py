#!/usr/bin/env python3
"""Where the agent's resident set lies, by ELF section of the executable, plus its anonymous mappings.

Starts the agent as start-to-ready.py does (an empty fixture-like tree in a temp dir, metrics off), waits for
READY=1 and half a second more, then reads /proc/PID/pagemap (root) for the executable's mappings and maps each
resident page to the section holding it (readelf -S), and /proc/PID/smaps for the anonymous mappings.

  tools/bench/rss-by-section.py AGENT_BINARY
  tools/bench/rss-by-section.py --pid PID      (an agent already running, e.g. after a load; nothing started or stopped)
"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time


def start(binary, d):
    for sub in ("sys/bus/pci/devices", "sys/devices/system/cpu", "proc", "run"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    # The least the agent accepts as a sysfs tree: the online CPUs (else it exits 66).
    with open(os.path.join(d, "sys/devices/system/cpu/online"), "w") as f:
        f.write("0\n")
    open(os.path.join(d, "agent.yaml"), "w").close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(os.path.join(d, "notify.sock"))
    s.settimeout(30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFACTORY_")}
    env["NOTIFY_SOCKET"] = os.path.join(d, "notify.sock")
    p = subprocess.Popen([binary, "--config", f"{d}/agent.yaml", "--sysfs-root", f"{d}/sys", "--procfs-root", f"{d}/proc",
                          "--state-dir", f"{d}/state", "--socket", f"{d}/run/agent.sock", "--metrics-listen", "off"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not s.recv(4096).decode().startswith("READY=1"):
        pass
    s.close()
    time.sleep(0.5)
    return p


def main():
    attach = sys.argv[1] == "--pid"
    binary = os.path.realpath(f"/proc/{sys.argv[2]}/exe" if attach else sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="aifactory-rss-") as d:
        p = None if attach else start(binary, d)
        pid = int(sys.argv[2]) if attach else p.pid
        try:
            base, ranges = None, []
            for line in open(f"/proc/{pid}/maps"):
                parts = line.split()
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                if len(parts) >= 6 and parts[5] == binary:
                    base = lo - int(parts[2], 16) if base is None else base
                    ranges.append((lo, hi))
                elif len(parts) == 5 and ranges and lo == ranges[-1][1]:
                    ranges.append((lo, hi))  # .bss and NativeAOT's .hydrated continue the last mapping, anonymous
            present = set()
            with open(f"/proc/{pid}/pagemap", "rb") as pm:
                for lo, hi in ranges:
                    pm.seek(lo // 4096 * 8)
                    data = pm.read((hi - lo) // 4096 * 8)
                    present.update((lo - base) // 4096 + i for i in range((hi - lo) // 4096)
                                   if struct.unpack_from("<Q", data, i * 8)[0] >> 63)
            anon, rows, current = [], [], None
            for line in open(f"/proc/{pid}/smaps"):
                m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
                if m:
                    current = (int(m.group(2), 16) - int(m.group(1), 16), m.group(3) or "[anonymous]")
                elif line.startswith("Rss:") and current[1].startswith("[") and int(line.split()[1]) >= 128:
                    anon.append((int(line.split()[1]), current))
            status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status").read().splitlines() if ":" in l)
        finally:
            if p is not None:
                p.send_signal(signal.SIGTERM)
                p.wait(30)
    print(f"{binary}: {os.path.getsize(binary) / 1e6:.1f} MB; VmRSS{status['VmRSS'].strip()}, RssFile {status['RssFile'].strip()}, "
          f"RssAnon {status['RssAnon'].strip()}, threads {status['Threads'].strip()}")
    for line in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if not m or int(m.group(2), 16) == 0 or int(m.group(3), 16) < 65536:
            continue
        addr, size = int(m.group(2), 16), int(m.group(3), 16)
        pages = range(addr // 4096, (addr + size + 4095) // 4096)
        resident = sum(1 for x in pages if x in present)
        print(f"  {m.group(1):18s} {size / 1048576:6.2f} MiB, resident {resident * 4 / 1024:6.2f} MiB ({100 * resident / len(pages):3.0f}%)")
    for kib, (size, name) in sorted(anon, reverse=True):
        print(f"  {name:18s} {size / 1048576:6.2f} MiB mapping, resident {kib / 1024:6.2f} MiB")


if __name__ == "__main__":
    main()
