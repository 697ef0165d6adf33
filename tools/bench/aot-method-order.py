#!/usr/bin/env python3
"""Writes agent/AiFactory.Agent/aot-method-order.txt: the order in which the native-AOT compiler lays out the agent's
methods (ILC --method-layout:explicit --order:FILE, through Directory.Build.targets), so that the code a running
agent executes sits together.

Why: the kernel maps a file's pages in 64 KiB windows around each fault (fault-around), so code spread over the
9.5 MiB of compiled methods costs resident memory out of proportion to what runs: after 500 scrapes, 6.6 MiB of
__managedcode was resident in the compiler's own layout, 1.8 MiB laid out by use (docs/benchmarks/metrics.md).

How, on a hardware fixture with the fake NVML (root; tests/setup.d/40-fake-nvml.sh first). Each run starts the agent
with the unit's DOTNET_* settings, waits for the start-up release of its pages, scrapes once and waits for the idle
trim after that (as a Prometheus server's first scrape would), so that what is mapped afterwards was touched since.
  1. An instrumented build (ILC --reachabilityinstrument: every non-generic method sets a byte the first time it
     runs): the bytes are read and cleared through /proc/PID/mem once settled (start-up set), then N scrapes of
     /metrics and STEADY seconds of idle timers (the 30 s rescan, idle trims), and read again (steady set). Each
     method's byte is found from its code: the instrumentation is a `mov byte ptr [rip+disp32], 1`
     (C6 05 disp32 01) near its start, pointing at one of the `__tokenuse_*` symbols.
  2. ROUNDS builds laid out by what is known so far, each run with the block device's read-ahead off and the
     executable's pages evicted from the page cache, so that each page the process touches is read alone and
     fault-around finds no cached neighbours to map: the page cache then holds exactly the pages start-up touched,
     and /proc/PID/pagemap after the scrapes the pages they touched. Every method on such a page joins that phase:
     the pages see what the instrumentation cannot (generic code), and correct a method whose first byte store is
     an inlined callee's.
  3. The file: steady methods, the methods on the scrapes' pages, start-up methods, the methods on start-up's pages.
     Methods not named go after them, in the compiler's own order.

  sudo tools/bench/aot-method-order.py [--fixture dgx-h100] [--scrapes 500] [--steady 35] [--rounds 2] [--out FILE]

The committed file was made with the same measurements by hand in the tenth session, in a different sequence (a
page pass on the default layout first, then the instrumented pass, then two page passes); this script's output, laid
out and measured the same way, left about 1 MiB more resident after the scrapes (20.0-21.2 against 19.0-19.5 MiB,
docs/benchmarks/metrics.md), and why is not known yet: compare with the committed file before replacing it. A stale
file does no harm beyond memory (names that no longer exist are skipped, new methods go last).
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
PAGE = 4096


def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, **kw)


def publish(out, extra):
    run(["dotnet", "publish", f"{ROOT}/agent/AiFactory.Agent/AiFactory.Agent.csproj", "-c", "Release", "-r", "linux-x64",
         "--nologo", "-v", "quiet", "-p:PublishAot=true", "-p:AiFactoryTargetFramework=net10.0", "-p:StripSymbols=false",
         "-o", out] + extra)
    return os.path.join(out, "aifactory-agent")


def symbols(binary):
    """(address, size, name) of the executable's code symbols, and {address: name} of the instrumentation bytes."""
    code, flags = [], {}
    out = subprocess.run(["nm", "-S", "-n", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 3 and p[-1].startswith("__tokenuse_") and p[-1] != "__tokenuse_begin":
            flags[int(p[0], 16)] = p[-1]
        elif len(p) == 4 and p[2] in "tT":
            code.append((int(p[0], 16), int(p[1], 16), p[3]))
    return code, flags


def section(binary, name):
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and m.group(1) == name:
            return int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16)   # address, file offset, size
    raise SystemExit(f"{binary}: no {name} section")


def managed_methods(binary):
    addr, _, size = section(binary, "__managedcode")
    code, flags = symbols(binary)
    return [c for c in code if addr <= c[0] < addr + size], flags


def flag_of_method(binary, methods, flags):
    """method name -> the instrumentation byte it sets first (pass 1)."""
    data = open(binary, "rb").read()
    text_addr, text_off, _ = section(binary, "__managedcode")
    store = re.compile(rb"\xc6\x05(....)\x01", re.S)
    result = {}
    for addr, size, name in methods:
        off = addr - text_addr + text_off
        for m in store.finditer(data, off, off + min(size, 600)):
            target = addr + (m.end() - off) + struct.unpack("<i", m.group(1))[0]
            if target in flags:
                result[name] = target
                break
    return result


class Agent:
    """The agent on the fixture with the fake NVML and the unit's DOTNET_* settings, metrics on a free port."""

    def __init__(self, binary, fixture, fixture_name, work):
        os.makedirs(work, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = dict(os.environ)
        for line in open(f"{ROOT}/packaging/common/aifactory-agent.service"):
            m = re.match(r"^Environment=(DOTNET_[A-Za-z0-9_]+)=(\S+)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
        env["FAKE_NVML_STATE"] = f"{ROOT}/hardware-fixtures/{fixture_name}/nvml.json"
        env["FAKE_NVML_MIG_STATE"] = os.path.join(work, "mig.state")
        with open(env["FAKE_NVML_MIG_STATE"], "w") as f:   # every GPU in MIG mode, seven 1g instances each
            for g in range(8):
                f.write(f"mode {g} 1 1\n" + "".join(f"gi {g} {7 + s} 19 {s} 1\nci {g} {7 + s} 0 0 0 1\n" for s in range(7)))
        self.log = os.path.join(work, "agent.log")
        self.proc = subprocess.Popen(
            [binary, "--socket", f"{work}/agent.sock", "--state-dir", f"{work}/state", "--metrics-listen", f"127.0.0.1:{self.port}",
             "--log-level", "debug", "--sysfs-root", f"{fixture}/sys", "--procfs-root", f"{fixture}/proc",
             "--nvml-library", f"{ROOT}/artifacts/fake-nvml/libnvidia-ml.so.1"],
            env=env, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.binary = os.path.realpath(binary)

    def settled(self):
        """Waits for the start-up release of memory, scrapes once, and waits for the idle trim after that
        (IdleMemoryTrimmer): from then on the executable's pages mapped are only those the daemon touched since."""
        def wait_for(text, seconds):
            for _ in range(int(seconds * 10)):
                if self.proc.poll() is not None:
                    raise SystemExit(f"agent exited {self.proc.returncode}: {open(self.log).read()[-2000:]}")
                if text in open(self.log).read():
                    return True
                time.sleep(0.1)
            return False
        if not wait_for("Start-up pages unmapped", 60):
            raise SystemExit("agent did not release its start-up pages in 60 s: " + open(self.log).read()[-2000:])
        self.scrape(1)   # as Prometheus's first scrape would: work, then quiet, then the first idle trim
        if not wait_for("memory given back", 30):
            raise SystemExit("agent made no idle trim in 30 s after start-up: " + open(self.log).read()[-2000:])
        time.sleep(1)

    def scrape(self, n):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for _ in range(n):
            conn.request("GET", "/metrics", headers={"Accept": "text/plain;version=0.0.4"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"/metrics answered {r.status}")
        conn.close()

    def base(self):
        for line in open(f"/proc/{self.proc.pid}/maps"):
            p = line.split()
            if len(p) >= 6 and p[5] == self.binary and int(p[2], 16) == 0:
                return int(p[0].split("-")[0], 16)
        raise SystemExit("executable mapping not found")

    def flags(self, flags, clear):
        """The instrumentation bytes that are set; with clear, set them all back to 0."""
        lo, hi = min(flags), max(flags) + 1
        with open(f"/proc/{self.proc.pid}/mem", "r+b", buffering=0) as mem:
            mem.seek(self.base() + lo)
            blob = mem.read(hi - lo)
            if clear:
                cleared = bytearray(blob)
                for a in flags:
                    cleared[a - lo] = 0
                mem.seek(self.base() + lo)
                mem.write(bytes(cleared))
        return {a for a in flags if blob[a - lo]}

    def present(self):
        pages = set()
        with open(f"/proc/{self.proc.pid}/pagemap", "rb") as pm:
            for line in open(f"/proc/{self.proc.pid}/maps"):
                p = line.split()
                if len(p) >= 6 and p[5] == self.binary:
                    lo, hi = (int(x, 16) for x in p[0].split("-"))
                    pm.seek(lo // PAGE * 8)
                    data = pm.read((hi - lo) // PAGE * 8)
                    pages.update(int(p[2], 16) // PAGE + i for i in range((hi - lo) // PAGE)
                                 if struct.unpack_from("<Q", data, i * 8)[0] >> 63)
        return pages

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_ahead_file(path):
    dev = os.stat(path).st_dev
    base = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    for q in (f"{base}/queue/read_ahead_kb", f"{base}/../queue/read_ahead_kb"):
        if os.path.exists(q):
            return q
    raise SystemExit(f"{path}: not on a block device with a read-ahead setting (tmpfs, overlay?): pass 2 needs one")


def pages_of(binary, methods, pages):
    """The methods lying on any of the file pages, in the build's order."""
    addr, off, _ = section(binary, "__managedcode")
    return [n for a, s, n in methods
            if any(p in pages for p in range((a - addr + off) // PAGE, (a - addr + off + max(s, 1) - 1) // PAGE + 1))]


def write_order(path, groups):
    """One name per line, each group after the one before it, each name once; returns the count."""
    seen = set()
    with open(path, "w") as f:
        for group in groups:
            for n in group:
                if n not in seen:
                    seen.add(n)
                    f.write(n + "\n")
    return len(seen)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", default="dgx-h100")
    ap.add_argument("--scrapes", type=int, default=500)
    ap.add_argument("--steady", type=float, default=35, help="idle seconds after the scrapes (the 30 s rescan runs)")
    ap.add_argument("--rounds", type=int, default=2, help="page-measuring rounds after the instrumented one")
    ap.add_argument("--out", default=f"{ROOT}/agent/AiFactory.Agent/aot-method-order.txt")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: /proc/PID/mem of the agent, and the block device's read-ahead for pass 2")
    if not os.path.exists(f"{ROOT}/artifacts/fake-nvml/libnvidia-ml.so.1"):
        raise SystemExit("no fake NVML: run tests/setup.d/40-fake-nvml.sh")
    work = tempfile.mkdtemp(prefix="aot-order.", dir=f"{ROOT}/artifacts")
    try:
        fixture = os.path.join(work, "fixture")
        run([f"{ROOT}/tools/fixture.sh", "unpack", args.fixture, fixture], stdout=subprocess.DEVNULL)

        # Pass 1: which non-generic methods run at start-up, in the scrapes, and in the daemon's timers.
        instrumented = publish(f"{work}/reach", ["-p:AiFactoryIlcOrderFile=", "-p:AiFactoryAotReachability=true"])
        methods1, flags = managed_methods(instrumented)
        flag_of = flag_of_method(instrumented, methods1, flags)
        agent = Agent(instrumented, fixture, args.fixture, os.path.join(work, "run1"))
        try:
            agent.settled()
            startup_flags = agent.flags(flags, clear=True)
            agent.scrape(args.scrapes)
            time.sleep(args.steady)
            steady_flags = agent.flags(flags, clear=False)
        finally:
            agent.stop()

        def named(selected):
            return [n for _, _, n in methods1 if flag_of.get(n) in selected]
        steady = named(steady_flags)
        startup = named(startup_flags)
        print(f"pass 1: {len(flags)} instrumented methods, {len(flag_of)} found in the code; {len(startup_flags)} ran at "
              f"start-up, {len(steady_flags)} in the scrapes and {args.steady:.0f} s idle after them", file=sys.stderr)

        # Passes 2..: the pages each phase touches in a build laid out by what is known so far (generic code is seen
        # only here), each round laying out by the last round's pages.
        groups = (steady, [], startup, [])
        for round_ in range(1, args.rounds + 1):
            order_file = os.path.join(work, f"order{round_}.txt")
            write_order(order_file, groups)
            built = publish(f"{work}/round{round_}", [f"-p:AiFactoryIlcOrderFile={order_file}"])
            binary = os.path.join(work, f"run{round_ + 1}", "aifactory-agent")
            os.makedirs(os.path.dirname(binary), exist_ok=True)
            shutil.copyfile(built, binary)
            os.chmod(binary, 0o755)
            os.sync()
            knob = read_ahead_file(binary)
            saved = open(knob).read().strip()
            try:
                with open(knob, "w") as f:
                    f.write("0")
                evict(binary)
                agent = Agent(binary, fixture, args.fixture, os.path.dirname(binary))
                try:
                    agent.settled()
                    startup_pages = _cached(binary)   # read-ahead off: the page cache holds what start-up touched
                    evict(binary)   # and what start-up touched and no longer maps leaves it
                    agent.scrape(args.scrapes)
                    steady_pages = agent.present()   # the scrapes' pages: the timers' show in pass 1's flags
                finally:
                    agent.stop()
            finally:
                with open(knob, "w") as f:
                    f.write(saved)
            # Every method on a touched page joins its phase: the pages see what the instrumentation cannot (generic
            # code), and correct what the code scan gets wrong (a method whose first byte store is an inlined callee's).
            methods, _ = managed_methods(binary)
            groups = (steady, pages_of(binary, methods, steady_pages), startup, pages_of(binary, methods, startup_pages))
            print(f"round {round_}: pages touched in the steady state {len(steady_pages)}, at start-up {len(startup_pages)}",
                  file=sys.stderr)

        count = write_order(args.out, groups)
        sizes = {n: sz for _, sz, n in methods}
        print(f"{args.out}: {count} methods, {sum(sizes.get(n, 0) for n in open(args.out).read().split()) / 1048576:.2f} MiB "
              f"of {sum(sizes.values()) / 1048576:.2f} MiB", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cached(path):
    """Page numbers of the file that are in the page cache (mincore on a fresh mapping; nothing is faulted in)."""
    import ctypes
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, 1, 1, fd, 0)   # PROT_READ, MAP_SHARED
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap")
        try:
            vec = ctypes.create_string_buffer((size + PAGE - 1) // PAGE)
            if libc.mincore(address, size, vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore")
            return {i for i in range(len(vec.raw)) if vec.raw[i] & 1}
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
