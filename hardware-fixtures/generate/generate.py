#!/usr/bin/env python3
"""Generates the hardware fixtures: real-layout /sys and /proc trees of whole servers, one text archive each.

    python3 hardware-fixtures/generate/generate.py hardware-fixtures      (or: tools/fixture.sh generate)

Each machine is declared once below (sockets, cores, NUMA nodes, PCI tree) and written the way the kernel lays it
out: devices under /sys/devices/pciDDDD:BB/<root port>/<switch ports>/<endpoint>, /sys/bus/pci/devices links,
driver links into /sys/bus/pci/drivers, /sys/kernel/iommu_groups/N/devices links, /sys/class/net and
/sys/class/infiniband links, /sys/class/block (NVMe namespaces), /sys/devices/system/{cpu,node},
/sys/kernel/mm/hugepages, and /proc/{cmdline,meminfo,cpuinfo,self/mounts,net/route,net/ipv6_route}. PCI config space (256 bytes) is written because hwloc reads bridge bus ranges from it.
The sources and assumptions of each machine are in hardware-fixtures/<name>/README.md.
"""
import os
import shutil
import subprocess
import sys
import tempfile

# ---------------------------------------------------------------------------------------------------------------
# Tree building


class Tree:
    def __init__(self, root):
        self.root = root

    def _p(self, rel):
        return os.path.join(self.root, rel)

    def dir(self, rel):
        os.makedirs(self._p(rel), exist_ok=True)

    def file(self, rel, content, mode=0o444):
        path = self._p(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = content if isinstance(content, bytes) else content.encode()
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)

    def link(self, rel, target_rel):
        """A relative symlink at rel pointing at target_rel (both relative to the tree root)."""
        path = self._p(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        target = os.path.relpath(self._p(target_rel), os.path.dirname(path))
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(target, path)


def cpulist(cpus):
    cpus = sorted(cpus)
    out, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)


def cpumask(cpus, ncpus):
    words = max(1, (ncpus + 31) // 32)
    bits = 0
    for c in cpus:
        bits |= 1 << c
    return ",".join(f"{(bits >> (32 * w)) & 0xffffffff:08x}" for w in reversed(range(words)))


# ---------------------------------------------------------------------------------------------------------------
# Machine description


class Dev:
    """A PCI function. children: functions on the secondary bus (for bridges)."""

    def __init__(self, addr, vendor, device, cls, driver=None, sub=(0, 0), children=(), group=None,
                 link=("16.0 GT/s PCIe", 16, "16.0 GT/s PCIe", 16), reset="flr bus", net=(), ib=(),
                 sriov=None, rev=0xa1):
        self.addr, self.vendor, self.device, self.cls = addr, vendor, device, cls
        self.driver, self.sub, self.children, self.group = driver, sub, list(children), group
        self.link, self.reset, self.net, self.ib, self.sriov, self.rev = link, reset, net, ib, sriov, rev
        self.vfs = []

    @property
    def bus(self):
        return int(self.addr.split(":")[1], 16)

    @property
    def is_bridge(self):
        return self.cls >> 8 == 0x0604


def bridge(addr, vendor, device, children, link=("32.0 GT/s PCIe", 16, "32.0 GT/s PCIe", 16), driver="pcieport"):
    return Dev(addr, vendor, device, 0x060400, driver=driver, children=children, link=link, reset="")


class Machine:
    def __init__(self, name, arch, sockets, cores_per_socket, smt, nodes, cpu_numbering, node_memory_kib,
                 distances, roots, cmdline, cpu_model, hugepages, isolated="", nohz_full="", default_route=None):
        self.name, self.arch, self.sockets, self.cores, self.smt = name, arch, sockets, cores_per_socket, smt
        self.nodes = nodes  # {node: [cpus]}
        self.cpu_numbering = cpu_numbering  # cpu -> (socket, core_id)
        self.node_memory_kib = node_memory_kib  # {node: kib}
        self.distances, self.roots, self.cmdline, self.cpu_model = distances, roots, cmdline, cpu_model
        self.hugepages = hugepages  # {node: {size_kib: (total, free, surplus)}}
        self.isolated, self.nohz_full = isolated, nohz_full
        # The interface of the default route in /proc/net/route (None: no default route in the tree). The boot disk is
        # always the first NVMe namespace (nvme0n1, partition 2 on /).
        self.default_route = default_route


def x86_numbering(sockets, cores, smt):
    """Linux x86 order: first thread of every core of every socket, then the second threads."""
    m = {}
    n = sockets * cores
    for t in range(smt):
        for s in range(sockets):
            for c in range(cores):
                m[t * n + s * cores + c] = (s, c)
    return m


# ---------------------------------------------------------------------------------------------------------------
# Writing a machine


def config_space(d, bus):
    cfg = bytearray(256)
    cfg[0:2] = d.vendor.to_bytes(2, "little")
    cfg[2:4] = d.device.to_bytes(2, "little")
    cfg[4:6] = (0x0406).to_bytes(2, "little")  # memory + bus master
    cfg[8] = d.rev
    cfg[9], cfg[10], cfg[11] = d.cls & 0xff, (d.cls >> 8) & 0xff, (d.cls >> 16) & 0xff
    if d.is_bridge:
        cfg[0x0e] = 0x01
        secondary, subordinate = bus_range(d)
        cfg[0x18], cfg[0x19], cfg[0x1a] = bus, secondary, subordinate
    else:
        cfg[0x2c:0x2e] = d.sub[0].to_bytes(2, "little")
        cfg[0x2e:0x30] = d.sub[1].to_bytes(2, "little")
    return bytes(cfg)


def bus_range(d):
    if not d.children:
        return d.bus + 1, d.bus + 1
    buses = []

    def collect(x):
        buses.append(x.bus)
        for c in x.children:
            collect(c)
    for c in d.children:
        collect(c)
    return min(buses), max(buses)


def write_machine(m, root):
    t = Tree(root)
    ncpus = len(m.cpu_numbering)
    all_cpus = list(range(ncpus))
    cpu_node = {c: n for n, cs in m.nodes.items() for c in cs}

    # ---- CPUs: /sys/devices/system/cpu
    sc = "sys/devices/system/cpu"
    for f, v in (("online", cpulist(all_cpus)), ("possible", cpulist(all_cpus)), ("present", cpulist(all_cpus)),
                 ("offline", ""), ("isolated", m.isolated), ("nohz_full", m.nohz_full or "(null)"),
                 ("kernel_max", "8191")):
        t.file(f"{sc}/{f}", v + "\n")
    for cpu, (sock, core) in m.cpu_numbering.items():
        siblings = [c for c, (s2, c2) in m.cpu_numbering.items() if (s2, c2) == (sock, core)]
        package = [c for c, (s2, _) in m.cpu_numbering.items() if s2 == sock]
        d = f"{sc}/cpu{cpu}"
        if cpu != 0:
            t.file(f"{d}/online", "1\n", 0o644)
        topo = f"{d}/topology"
        t.file(f"{topo}/physical_package_id", f"{sock}\n")
        t.file(f"{topo}/die_id", "0\n")
        t.file(f"{topo}/core_id", f"{core}\n")
        t.file(f"{topo}/cluster_id", f"{core if m.arch == 'x86_64' else 0}\n")
        for name, cpus in (("thread_siblings", siblings), ("core_cpus", siblings), ("core_siblings", package),
                           ("package_cpus", package), ("die_cpus", package)):
            t.file(f"{topo}/{name}", cpumask(cpus, ncpus) + "\n")
            t.file(f"{topo}/{name}_list", cpulist(cpus) + "\n")
        t.link(f"{d}/node{cpu_node[cpu]}", f"sys/devices/system/node/node{cpu_node[cpu]}")

    # ---- NUMA nodes: /sys/devices/system/node
    sn = "sys/devices/system/node"
    node_ids = sorted(m.nodes)
    with_cpus = [n for n in node_ids if m.nodes[n]]
    with_mem = [n for n in node_ids if m.node_memory_kib[n] > 0]
    for f, v in (("online", cpulist(node_ids)), ("possible", cpulist(node_ids)), ("has_cpu", cpulist(with_cpus)),
                 ("has_memory", cpulist(with_mem)), ("has_normal_memory", cpulist(with_mem))):
        t.file(f"{sn}/{f}", v + "\n")
    for n in node_ids:
        d = f"{sn}/node{n}"
        cpus = m.nodes[n]
        t.file(f"{d}/cpumap", cpumask(cpus, ncpus) + "\n")
        t.file(f"{d}/cpulist", cpulist(cpus) + "\n")
        t.file(f"{d}/distance", " ".join(str(x) for x in m.distances[node_ids.index(n)]) + "\n")
        total = m.node_memory_kib[n]
        huge_kib = sum(size * v[0] for size, v in m.hugepages.get(n, {}).items())
        free = max(0, total - huge_kib - total // 20)
        t.file(f"{d}/meminfo", "".join(f"Node {n} {k + ':':<16}{v:>15} kB\n" for k, v in (
            ("MemTotal", total), ("MemFree", free), ("MemUsed", total - free), ("HugePages_Total", 0)))
            .replace(f"Node {n} HugePages_Total:", f"Node {n} HugePages_Total:") )
        sizes = [2048, 1048576] if m.arch == "x86_64" else [2048, 524288]
        if m.arch == "aarch64":
            sizes = [64, 2048, 32768, 1048576]
        for size in sizes:
            total_p, free_p, surplus_p = m.hugepages.get(n, {}).get(size, (0, 0, 0))
            h = f"{d}/hugepages/hugepages-{size}kB"
            t.file(f"{h}/nr_hugepages", f"{total_p}\n", 0o644)
            t.file(f"{h}/free_hugepages", f"{free_p}\n")
            t.file(f"{h}/surplus_hugepages", f"{surplus_p}\n")
        for cpu in cpus:
            t.link(f"{d}/cpu{cpu}", f"{sc}/cpu{cpu}")

    # ---- system-wide hugepages: /sys/kernel/mm/hugepages
    for size in sizes:
        tot = sum(m.hugepages.get(n, {}).get(size, (0, 0, 0))[0] for n in node_ids)
        fr = sum(m.hugepages.get(n, {}).get(size, (0, 0, 0))[1] for n in node_ids)
        su = sum(m.hugepages.get(n, {}).get(size, (0, 0, 0))[2] for n in node_ids)
        h = f"sys/kernel/mm/hugepages/hugepages-{size}kB"
        t.file(f"{h}/nr_hugepages", f"{tot}\n", 0o644)
        t.file(f"{h}/free_hugepages", f"{fr}\n")
        t.file(f"{h}/surplus_hugepages", f"{su}\n")
        t.file(f"{h}/resv_hugepages", "0\n")
        t.file(f"{h}/nr_overcommit_hugepages", "0\n", 0o644)

    # ---- PCI
    groups = {}
    next_group = [0]
    drivers = set()

    def cpus_of(node):
        return m.nodes.get(node, []) if node is not None else all_cpus

    paths = {}
    nvme_addrs = set()

    def write_dev(dpath, d, node, parent_chain):
        t.dir(dpath)
        paths[d.addr] = dpath
        if d.driver == "nvme":
            nvme_addrs.add(d.addr)
        t.file(f"{dpath}/vendor", f"0x{d.vendor:04x}\n")
        t.file(f"{dpath}/device", f"0x{d.device:04x}\n")
        t.file(f"{dpath}/subsystem_vendor", f"0x{d.sub[0]:04x}\n")
        t.file(f"{dpath}/subsystem_device", f"0x{d.sub[1]:04x}\n")
        t.file(f"{dpath}/class", f"0x{d.cls:06x}\n")
        t.file(f"{dpath}/revision", f"0x{d.rev:02x}\n")
        t.file(f"{dpath}/numa_node", f"{-1 if node is None else node}\n", 0o644)
        local = cpus_of(node) if node is not None and m.nodes.get(node) else all_cpus
        t.file(f"{dpath}/local_cpus", cpumask(local, ncpus) + "\n")
        t.file(f"{dpath}/local_cpulist", cpulist(local) + "\n")
        t.file(f"{dpath}/driver_override", "(null)\n", 0o644)
        t.file(f"{dpath}/enable", "1\n", 0o644)
        t.file(f"{dpath}/config", config_space(d, d.bus), 0o644)
        if d.link is not None:
            cs, cw, ms, mw = d.link
            t.file(f"{dpath}/current_link_speed", cs + "\n")
            t.file(f"{dpath}/current_link_width", f"{cw}\n")
            t.file(f"{dpath}/max_link_speed", ms + "\n")
            t.file(f"{dpath}/max_link_width", f"{mw}\n")
        if d.reset is not None and not d.is_bridge:
            t.file(f"{dpath}/reset_method", d.reset + "\n", 0o644)
        if d.is_bridge:
            sec, sub = bus_range(d)
            t.file(f"{dpath}/secondary_bus_number", f"{sec}\n")
            t.file(f"{dpath}/subordinate_bus_number", f"{sub}\n")
        t.link(f"{dpath}/subsystem", "sys/bus/pci")
        t.link(f"sys/bus/pci/devices/{d.addr}", dpath)
        if d.driver:
            drivers.add(d.driver)
            t.link(f"{dpath}/driver", f"sys/bus/pci/drivers/{d.driver}")
            t.link(f"sys/bus/pci/drivers/{d.driver}/{d.addr}", dpath)
        g = d.group
        if g is None:
            g = next_group[0]
        next_group[0] = max(next_group[0], g + 1)
        groups.setdefault(g, []).append(dpath)
        t.link(f"{dpath}/iommu_group", f"sys/kernel/iommu_groups/{g}")
        t.link(f"sys/kernel/iommu_groups/{g}/devices/{d.addr}", dpath)
        if d.sriov is not None:
            total, num, autoprobe = d.sriov
            t.file(f"{dpath}/sriov_totalvfs", f"{total}\n")
            t.file(f"{dpath}/sriov_numvfs", f"{num}\n", 0o644)
            t.file(f"{dpath}/sriov_drivers_autoprobe", f"{autoprobe}\n", 0o644)
            t.file(f"{dpath}/sriov_offset", "2\n")
            t.file(f"{dpath}/sriov_stride", "1\n")
        for name in d.net:
            t.file(f"{dpath}/net/{name}/type", ("32" if name.startswith("ib") else "1") + "\n")
            t.file(f"{dpath}/net/{name}/mtu", ("4092" if name.startswith("ib") else "9000") + "\n", 0o644)
            t.file(f"{dpath}/net/{name}/operstate", "up\n")
            t.file(f"{dpath}/net/{name}/address", "00:00:00:00:00:00\n")
            t.link(f"{dpath}/net/{name}/device", dpath)
            t.link(f"sys/class/net/{name}", f"{dpath}/net/{name}")
        for name in d.ib:
            t.file(f"{dpath}/infiniband/{name}/node_type", "1: CA\n")
            t.link(f"{dpath}/infiniband/{name}/device", dpath)
            t.link(f"sys/class/infiniband/{name}", f"{dpath}/infiniband/{name}")
        for c in d.children:
            write_dev(f"{dpath}/{c.addr}", c, node, parent_chain + [d])
        for i, vf in enumerate(d.vfs):
            vpath = f"{os.path.dirname(dpath)}/{vf.addr}"
            write_dev(vpath, vf, node, parent_chain)
            t.link(f"{vpath}/physfn", dpath)
            t.link(f"{dpath}/virtfn{i}", vpath)

    for domain_bus, node, top in m.roots:
        hb = f"sys/devices/pci{domain_bus}"
        t.dir(hb)
        for d in top:
            write_dev(f"{hb}/{d.addr}", d, node, [])
    for drv in drivers:
        t.file(f"sys/bus/pci/drivers/{drv}/bind", b"", 0o200)
        t.file(f"sys/bus/pci/drivers/{drv}/unbind", b"", 0o200)
    t.file("sys/bus/pci/drivers_autoprobe", "1\n", 0o644)
    for g in groups:
        t.file(f"sys/kernel/iommu_groups/{g}/type", "DMA-FQ\n")
    t.dir("sys/class/net")
    t.dir("sys/class/infiniband")

    # ---- block devices: /sys/class/block, one namespace per NVMe controller (numbered in address order) with two
    # partitions on the first, the boot disk (what host-needed detection follows from /proc/self/mounts).
    nvmes = sorted((d for d in paths if d in nvme_addrs), key=lambda a: a)
    t.dir("sys/class/block")
    for i, addr in enumerate(nvmes):
        disk = f"nvme{i}n1"
        base = f"{paths[addr]}/nvme/nvme{i}/{disk}"
        t.file(f"{base}/dev", f"259:{i * 3}\n")
        t.link(f"sys/class/block/{disk}", base)
        if i == 0:
            for p in (1, 2):
                t.file(f"{base}/{disk}p{p}/dev", f"259:{p}\n")
                t.file(f"{base}/{disk}p{p}/partition", f"{p}\n")
                t.link(f"sys/class/block/{disk}p{p}", f"{base}/{disk}p{p}")

    # ---- /proc
    t.file("proc/cmdline", m.cmdline + "\n")
    total = sum(m.node_memory_kib.values())
    hp = {s: sum(m.hugepages.get(n, {}).get(s, (0, 0, 0))[0] for n in node_ids) for s in sizes}
    free = total // 2
    t.file("proc/meminfo", "".join(f"{k + ':':<16}{v:>8} kB\n" if k not in ("HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp") else f"{k + ':':<16}{v:>8}\n" for k, v in (
        ("MemTotal", total), ("MemFree", free), ("MemAvailable", free + total // 8), ("Buffers", 1024),
        ("Cached", total // 16), ("HugePages_Total", hp[2048]), ("HugePages_Free", hp[2048]),
        ("HugePages_Rsvd", 0), ("HugePages_Surp", 0), ("Hugepagesize", 2048),
        ("Hugetlb", sum(s * c for s, c in hp.items())))))
    cpuinfo = []
    for cpu, (sock, core) in sorted(m.cpu_numbering.items()):
        if m.arch == "x86_64":
            cpuinfo.append(f"processor\t: {cpu}\nvendor_id\t: {m.cpu_model[0]}\ncpu family\t: {m.cpu_model[1]}\n"
                           f"model\t\t: {m.cpu_model[2]}\nmodel name\t: {m.cpu_model[3]}\nstepping\t: {m.cpu_model[4]}\n"
                           f"physical id\t: {sock}\nsiblings\t: {m.cores * m.smt}\ncore id\t\t: {core}\n"
                           f"cpu cores\t: {m.cores}\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc vmx\n\n")
        else:
            cpuinfo.append(f"processor\t: {cpu}\nBogoMIPS\t: 2000.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics\n"
                           f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd4f\nCPU revision\t: 0\n\n")
    t.file("proc/cpuinfo", "".join(cpuinfo))
    # What host-needed detection reads: the mount table (the boot disk's second partition on /) and the IPv4 routes.
    t.file("proc/self/mounts", "".join(line + "\n" for line in (
        "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0",
        "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0",
        "udev /dev devtmpfs rw,nosuid,relatime,mode=755,inode64 0 0",
        "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,mode=755,inode64 0 0",
        "/dev/nvme0n1p2 / ext4 rw,relatime 0 0",
        "/dev/nvme0n1p1 /boot/efi vfat rw,relatime,fmask=0077,dmask=0077 0 0")))
    route = ["Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"]
    if m.default_route:
        route.append(f"{m.default_route}\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0")
        route.append(f"{m.default_route}\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0")
    t.file("proc/net/route", "".join(line + "\n" for line in route))
    if m.default_route:
        # The IPv6 routes of a dual-stack host (net/ipv6_route has no header): its link-local network, the default
        # route through a link-local router, and the kernel's unreachable ::/0 reject route on lo. Machines without a
        # default route have no file, as with IPv6 disabled.
        z = "0" * 32
        t.file("proc/net/ipv6_route", "".join(line + "\n" for line in (
            f"fe800000000000000000000000000000 40 {z} 00 {z} 00000100 00000001 00000000 00000001 {m.default_route:>8}",
            f"{z} 00 {z} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 {m.default_route:>8}",
            f"{z} 00 {z} 00 {z} ffffffff 00000001 00000000 00200200       lo")))
    t.file("proc/sys/kernel/osrelease", "6.8.0-60-generic\n" if m.arch == "x86_64" else "6.8.0-1021-nvidia-64k\n")


# ---------------------------------------------------------------------------------------------------------------
# The machines

NV, MLX, INTEL, AMD, BRCM, SAMSUNG, KIOXIA = 0x10de, 0x15b3, 0x8086, 0x1022, 0x1000, 0x144d, 0x1e0f
GEN5 = ("32.0 GT/s PCIe", 16, "32.0 GT/s PCIe", 16)
GEN4 = ("16.0 GT/s PCIe", 16, "16.0 GT/s PCIe", 16)


def h(x):
    return f"{x:02x}"


def gpu_switch_block(gpu_bus, gpu, nic, root_port_dev, switch_ids, nic_name, ib_name, link, nic_sriov=None):
    """root port (R:01.0) -> switch upstream (B-2:00.0) -> downstream (B-1:00.0 GPU, B-1:01.0 NIC).
    gpu: (vendor, device, subsystem device)."""
    b = gpu_bus
    g = Dev(f"0000:{h(b)}:00.0", gpu[0], gpu[1], 0x030200, driver="nvidia", sub=(gpu[0], gpu[2]), link=link)
    n = Dev(f"0000:{h(b + 1)}:00.0", MLX, nic[0], nic[1], driver="mlx5_core", sub=(MLX, 0x0023),
            net=(nic_name,), ib=(ib_name,), link=link, sriov=nic_sriov, reset="flr bus")
    down0 = bridge(f"0000:{h(b - 1)}:00.0", *switch_ids, [g], link=link)
    down1 = bridge(f"0000:{h(b - 1)}:01.0", *switch_ids, [n], link=link)
    up = bridge(f"0000:{h(b - 2)}:00.0", *switch_ids, [down0, down1], link=link)
    rp = bridge(f"0000:{h(b - 3)}:01.0", *root_port_dev, [up], link=link)
    return f"0000:{h(b - 3)}", rp


def dgx_h100():
    sockets, cores, smt = 2, 56, 2
    numbering = x86_numbering(sockets, cores, smt)
    nodes = {n: sorted(c for c, (s, _) in numbering.items() if s == n) for n in range(2)}
    roots = []
    spr_rp = (INTEL, 0x352a)
    pex = (BRCM, 0xc030)
    for i, bus in enumerate([0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb]):
        node = 0 if i < 4 else 1
        hb, rp = gpu_switch_block(bus, (NV, 0x2330, 0x16c1), (0x1021, 0x020700), spr_rp, pex, f"ibp{bus + 1}s0",
                                  f"mlx5_{i}", GEN5, nic_sriov=(8, 0, 1) if i == 0 else None)
        roots.append((hb, node, [rp]))
    # NVSwitches (4x, on socket 0 behind their own switch)
    nvs = [bridge(f"0000:46:{h(i)}.0", *pex, [Dev(f"0000:{h(0x47 + i)}:00.0", NV, 0x22a3, 0x068000, driver="nvidia",
                                                    sub=(NV, 0x1796), link=("16.0 GT/s PCIe", 2, "16.0 GT/s PCIe", 2))],
                  link=GEN5) for i in range(4)]
    roots.append(("0000:44", 0, [bridge("0000:44:01.0", *spr_rp, [bridge("0000:45:00.0", *pex, nvs)])]))
    # Boot NVMe (2x Samsung PM9A3 M.2) on socket 0, data NVMe (8x KIOXIA CM6 U.2) on socket 1
    nvme = lambda a, v, d, s: Dev(a, v, d, 0x010802, driver="nvme", sub=(v, s), reset="flr bus",  # noqa: E731
                                  link=("16.0 GT/s PCIe", 4, "16.0 GT/s PCIe", 4))
    roots.append(("0000:50", 0, [bridge(f"0000:50:0{i + 1}.0", *spr_rp, [nvme(f"0000:{h(0x51 + i)}:00.0", SAMSUNG, 0xa80a, 0xa813)],
                                        link=("16.0 GT/s PCIe", 4, "16.0 GT/s PCIe", 4)) for i in range(2)]))
    roots.append(("0000:c8", 1, [bridge(f"0000:c8:0{i + 1}.0", *spr_rp, [nvme(f"0000:{h(0xc9 + i)}:00.0", KIOXIA, 0x0011, 0x0001)],
                                        link=("16.0 GT/s PCIe", 4, "16.0 GT/s PCIe", 4)) for i in range(8)]))
    # In-band storage/management NIC: one dual-port ConnectX-7 (Ethernet), SR-IOV capable; port 0 has 2 VFs.
    pf0 = Dev("0000:a1:00.0", MLX, 0x1021, 0x020000, driver="mlx5_core", sub=(MLX, 0x0025), net=("enp161s0f0np0",),
              ib=("mlx5_8",), sriov=(16, 2, 1), link=GEN5)
    pf1 = Dev("0000:a1:00.1", MLX, 0x1021, 0x020000, driver="mlx5_core", sub=(MLX, 0x0025), net=("enp161s0f1np1",),
              ib=("mlx5_9",), sriov=(16, 0, 1), link=GEN5)
    pf0.vfs = [Dev(f"0000:a1:00.{2 + i}", MLX, 0x101e, 0x020000, driver="mlx5_core", sub=(MLX, 0x0025),
                   net=(f"enp161s0f0v{i}",), link=None, reset="flr") for i in range(2)]
    roots.append(("0000:a0", 1, [bridge("0000:a0:01.0", *spr_rp, [pf0, pf1])]))
    # Host bridge functions on bus 0 of each socket (the CPU's own devices).
    roots.append(("0000:00", 0, [Dev("0000:00:00.0", INTEL, 0x09a2, 0x088000, link=None, reset=None),
                                 Dev("0000:00:1f.0", INTEL, 0x1b81, 0x060100, link=None, reset=None)]))
    roots.append(("0000:80", 1, [Dev("0000:80:00.0", INTEL, 0x09a2, 0x088000, link=None, reset=None)]))
    dist = [[10, 21], [21, 10]]
    mem = {0: 1056457432, 1: 1056891648}
    huge = {0: {2048: (4096, 4096, 0), 1048576: (64, 64, 0)}, 1: {2048: (4096, 4000, 0), 1048576: (64, 60, 0)}}
    return Machine("dgx-h100", "x86_64", sockets, cores, smt, nodes, numbering, mem, dist, roots,
                   "BOOT_IMAGE=/boot/vmlinuz-6.8.0-60-generic root=UUID=00000000-0000-0000-0000-000000000000 ro "
                   "intel_iommu=on iommu=pt default_hugepagesz=2M hugepagesz=1G hugepages=128 pci=realloc=off",
                   ("GenuineIntel", 6, 143, "Intel(R) Xeon(R) Platinum 8480C", 8), huge)


def hgx_a100():
    sockets, cores, smt = 2, 64, 2
    numbering = x86_numbering(sockets, cores, smt)
    # NPS4: each socket is four NUMA nodes of 16 cores (32 threads).
    nodes = {}
    for n in range(8):
        s, q = n // 4, n % 4
        nodes[n] = sorted(c for c, (s2, core) in numbering.items() if s2 == s and core // 16 == q)
    dist = [[10 if a == b else (12 if a // 4 == b // 4 else 32) for b in range(8)] for a in range(8)]
    roots = []
    rome_rp = (AMD, 0x1483)
    pex = (BRCM, 0xc010)  # PEX88096 (Gen4)
    gpu_nodes = [3, 3, 1, 1, 7, 7, 5, 5]
    for i, bus in enumerate([0x07, 0x0f, 0x47, 0x4e, 0x87, 0x90, 0xb7, 0xbd]):
        hb, rp = gpu_switch_block(bus, (NV, 0x20b2, 0x1463), (0x101b, 0x020700), rome_rp, pex, f"ibp{bus + 1}s0",
                                  f"mlx5_{i}", GEN4)
        roots.append((hb, gpu_nodes[i], [rp]))
    # 6 NVSwitches (10de:1af1) on node 5, behind one switch.
    nvs = [bridge(f"0000:c2:{h(i)}.0", *pex, [Dev(f"0000:{h(0xc3 + i)}:00.0", NV, 0x1af1, 0x068000, driver="nvidia",
                                                    sub=(NV, 0x1623), link=("8.0 GT/s PCIe", 2, "8.0 GT/s PCIe", 2))],
                  link=GEN4) for i in range(6)]
    roots.append(("0000:c0", 5, [bridge("0000:c0:01.1", *rome_rp, [bridge("0000:c1:00.0", *pex, nvs)], link=GEN4)]))
    nvme = lambda a: Dev(a, SAMSUNG, 0xa824, 0x010802, driver="nvme", sub=(SAMSUNG, 0xa801), reset="flr bus",  # noqa: E731
                         link=("16.0 GT/s PCIe", 4, "16.0 GT/s PCIe", 4))
    roots.append(("0000:20", 2, [bridge(f"0000:20:0{i + 1}.1", *rome_rp, [nvme(f"0000:{h(0x21 + i)}:00.0")], link=("16.0 GT/s PCIe", 4, "16.0 GT/s PCIe", 4)) for i in range(4)]))
    # Storage NIC: dual-port ConnectX-6 Dx, SR-IOV capable (no VFs enabled); its link trained at x8 (degraded).
    pf = [Dev(f"0000:e1:00.{f}", MLX, 0x101d, 0x020000, driver="mlx5_core", sub=(MLX, 0x0016), net=(f"enp225s0f{f}np{f}",),
              ib=(f"mlx5_{8 + f}",), sriov=(8, 0, 1), link=("16.0 GT/s PCIe", 8, "16.0 GT/s PCIe", 16)) for f in range(2)]
    roots.append(("0000:e0", 6, [bridge("0000:e0:03.1", *rome_rp, pf, link=("16.0 GT/s PCIe", 8, "16.0 GT/s PCIe", 16))]))
    roots.append(("0000:00", 0, [Dev("0000:00:00.0", AMD, 0x1480, 0x060000, link=None, reset=None)]))
    roots.append(("0000:80", 4, [Dev("0000:80:00.0", AMD, 0x1480, 0x060000, link=None, reset=None)]))
    mem = {n: 131889404 for n in range(8)}
    huge = {n: {2048: (1024, 1024, 0), 1048576: (0, 0, 0)} for n in range(8)}
    return Machine("hgx-a100", "x86_64", sockets, cores, smt, nodes, numbering, mem, dist, roots,
                   "BOOT_IMAGE=/boot/vmlinuz-6.8.0-60-generic root=UUID=00000000-0000-0000-0000-000000000000 ro "
                   "amd_iommu=on iommu=pt hugepagesz=2M hugepages=8192",
                   ("AuthenticAMD", 25, 1, "AMD EPYC 7742 64-Core Processor", 0), huge)


def gh200():
    numbering = {c: (0, c) for c in range(72)}
    nodes = {0: list(range(72))}
    for n in range(1, 9):
        nodes[n] = []
    ids = list(range(9))
    # Node 0 Grace LPDDR5X; node 1 the Hopper's HBM3 (CPU-less); nodes 2..8 CPU-less, memoryless placeholders
    # that MIG instances' memory appears in once the driver onlines it.
    dist = [[10 if a == b else (80 if 0 in (a, b) else 120) for b in ids] for a in ids]
    mem = {0: 503316480, 1: 100663296}
    mem.update({n: 0 for n in range(2, 9)})
    grace_rp = (NV, 0x22b2)
    gpu = Dev("0009:01:00.0", NV, 0x2342, 0x030200, driver="nvidia", sub=(NV, 0x16eb), reset="flr bus", link=GEN5)
    nic = Dev("0000:01:00.0", MLX, 0x1021, 0x020000, driver="mlx5_core", sub=(MLX, 0x0025), net=("enP1p1s0f0np0",),
              ib=("mlx5_0",), sriov=(8, 0, 1), link=GEN5)
    nvme0 = Dev("0002:01:00.0", SAMSUNG, 0xa80a, 0x010802, driver="nvme", sub=(SAMSUNG, 0xa813),
                link=("16.0 GT/s PCIe", 4, "16.0 GT/s PCIe", 4), reset="flr bus")
    roots = [("0009:00", 0, [bridge("0009:00:00.0", *grace_rp, [gpu])]),
             ("0000:00", 0, [bridge("0000:00:00.0", *grace_rp, [nic])]),
             ("0002:00", 0, [bridge("0002:00:00.0", *grace_rp, [nvme0], link=("16.0 GT/s PCIe", 4, "16.0 GT/s PCIe", 4))])]
    huge = {0: {2048: (0, 0, 0), 524288: (0, 0, 0), 64: (0, 0, 0), 32768: (0, 0, 0), 1048576: (0, 0, 0)},
            1: {2048: (0, 0, 0)}}
    huge[0][2048] = (8192, 8192, 0)
    return Machine("gh200", "aarch64", 1, 72, 1, nodes, numbering, mem, dist, roots,
                   "BOOT_IMAGE=/boot/vmlinuz-6.8.0-1021-nvidia-64k root=UUID=00000000-0000-0000-0000-000000000000 ro "
                   "iommu.passthrough=1 init_on_alloc=0 numa_balancing=disable",
                   None, huge)


def workstation():
    sockets, cores, smt = 1, 10, 2
    numbering = x86_numbering(sockets, cores, smt)
    nodes = {0: list(range(20))}
    # Root ports 00:01.0 and 00:01.1 (CPU lanes split x8/x8) lack ACS: they, the GPU, its audio function and the
    # NIC behind 00:01.1 all land in IOMMU group 1.
    rp_id = (INTEL, 0x1901)
    g1 = 1
    gpu = Dev("0000:01:00.0", NV, 0x2230, 0x030000, driver="nvidia", sub=(NV, 0x1459), group=g1, reset="flr bus",
              link=("2.5 GT/s PCIe", 16, "16.0 GT/s PCIe", 16))
    audio = Dev("0000:01:00.1", NV, 0x1aef, 0x040300, driver="snd_hda_intel", sub=(NV, 0x1459), group=g1,
                reset="flr bus", link=("2.5 GT/s PCIe", 16, "16.0 GT/s PCIe", 16))
    nic = Dev("0000:02:00.0", INTEL, 0x1533, 0x020000, driver="igb", sub=(INTEL, 0x0001), group=g1, net=("enp2s0",),
              link=("2.5 GT/s PCIe", 1, "2.5 GT/s PCIe", 1), reset="flr pm bus")
    rp0 = bridge("0000:00:01.0", *rp_id, [gpu, audio], link=("2.5 GT/s PCIe", 16, "8.0 GT/s PCIe", 16))
    rp0.group = g1
    rp1 = bridge("0000:00:01.1", *rp_id, [nic], link=("2.5 GT/s PCIe", 1, "8.0 GT/s PCIe", 4))
    rp1.group = g1
    host = Dev("0000:00:00.0", INTEL, 0x2020, 0x060000, link=None, reset=None, group=0)
    nvme = Dev("0000:03:00.0", SAMSUNG, 0xa808, 0x010802, driver="nvme", sub=(SAMSUNG, 0xa801), group=3,
               link=("8.0 GT/s PCIe", 4, "8.0 GT/s PCIe", 4), reset="flr bus")
    rp2 = bridge("0000:00:1d.0", INTEL, 0xa298, [nvme], link=("8.0 GT/s PCIe", 4, "8.0 GT/s PCIe", 4))
    rp2.group = 2
    usb = Dev("0000:00:14.0", INTEL, 0xa2af, 0x0c0330, driver="xhci_hcd", sub=(INTEL, 0x7270), group=4, link=None, reset="pm")
    roots = [("0000:00", None, [host, rp0, rp1, rp2, usb])]
    huge = {0: {2048: (0, 0, 0), 1048576: (0, 0, 0)}}
    return Machine("workstation", "x86_64", sockets, cores, smt, nodes, numbering, {0: 131546300}, [[10]], roots,
                   "BOOT_IMAGE=/boot/vmlinuz-6.8.0-60-generic root=UUID=00000000-0000-0000-0000-000000000000 ro quiet splash "
                   "intel_iommu=on",
                   ("GenuineIntel", 6, 85, "Intel(R) Xeon(R) W-2255 CPU @ 3.70GHz", 7), huge, default_route="enp2s0")


MACHINES = [dgx_h100, hgx_a100, gh200, workstation]


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    fixture_sh = os.path.join(os.path.dirname(out), "tools", "fixture.sh")
    only = sys.argv[2:]
    for make in MACHINES:
        m = make()
        if only and m.name not in only:
            continue
        tmp = tempfile.mkdtemp(prefix=f"fixture-{m.name}-")
        try:
            write_machine(m, tmp)
            subprocess.run([fixture_sh, "pack", tmp, os.path.join(out, f"{m.name}.ttar")], check=True)
            print(f"{m.name}: {os.path.join(out, m.name + '.ttar')}")
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
