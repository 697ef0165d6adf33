#!/usr/bin/env python3
"""Writes the MIG profile tables (tests/fake-nvml/profiles/*.json) and the simulated servers' NVML state
(hardware-fixtures/<server>/nvml.json). Run it after changing a table; the output is checked in.

Structure (NVML profile ids, slice counts, possible placements in memory slices, instance counts) follows the
"Supported MIG Profiles" tables of NVIDIA's MIG user guide: 7 compute slices and 8 memory slices on A100, H100,
H200, B200 and GB200. Memory sizes are the profile names' sizes in MiB, rounded: simulated, not captured.

hardware-fixtures/dgx-h100/nvml.json carries hand edits this script does not write (encoder/decoder utilisation,
and "emptyProfileNames": true, as the real H100 answered): re-add them after regenerating it."""
import json, os

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(ROOT, "..", "..", ".."))

# (profile index, profile id, compute slices, name pattern, instance count, placements, memory eighths).
# The index is what nvmlDeviceGetGpuInstanceProfileInfo takes (NVML_GPU_INSTANCE_PROFILE_1_SLICE = 0, ...); the id
# is what it returns and what every other MIG call takes (placements, capacity, create, list). They differ: a real
# H100 80GB (driver 580.159.04, `nvidia-smi mig -lgip`) reports ids 19, 20, 15, 14, 9, 5 and 0 for these profiles,
# and the same ids are used here for every table (not verified on B200/GB200).
SHAPE = [
    (0, 19, 1, "1g.{m1}", 7, [[s, 1] for s in range(7)], 1),
    (7, 20, 1, "1g.{m1}+me", 1, [[s, 1] for s in range(7)], 1),
    (9, 15, 1, "1g.{m2}", 4, [[0, 2], [2, 2], [4, 2], [6, 2]], 2),
    (1, 14, 2, "2g.{m2}", 3, [[0, 2], [2, 2], [4, 2]], 2),
    (2, 9, 3, "3g.{m4}", 2, [[0, 4], [4, 4]], 4),
    (3, 5, 4, "4g.{m4}", 1, [[0, 4]], 4),
    (4, 0, 7, "7g.{m8}", 1, [[0, 8]], 8),
]

# table name -> (memory names for 1/8, 2/8, 4/8, 8/8 of the GPU, MiB per eighth, SMs per compute slice, SMs for 7g)
TABLES = {
    "a100-40gb": (("5gb", "10gb", "20gb", "40gb"), 4864, 14, 98),
    "a100-80gb": (("10gb", "20gb", "40gb", "80gb"), 9856, 14, 98),
    "h100-80gb": (("10gb", "20gb", "40gb", "80gb"), 9856, 16, 132),
    "h100-96gb": (("12gb", "24gb", "48gb", "96gb"), 11776, 16, 132),
    "h100-nvl-94gb": (("12gb", "24gb", "47gb", "94gb"), 11264, 16, 132),
    "h200-141gb": (("18gb", "35gb", "71gb", "141gb"), 17152, 16, 132),
    "b200-180gb": (("23gb", "45gb", "90gb", "180gb"), 22528, 20, 148),
    "gb200-186gb": (("23gb", "47gb", "93gb", "186gb"), 23040, 20, 152),
}


def table(name):
    mem, eighth, sm, sm7 = TABLES[name]
    m = {"m1": mem[0], "m2": mem[1], "m4": mem[2], "m8": mem[3]}
    profiles = []
    for pid, profile_id, slices, pattern, count, placements, eighths in SHAPE:
        if name == "a100-40gb" and pid == 9:
            pattern = "1g.10gb"
        profiles.append({
            "index": pid, "id": profile_id, "name": pattern.format(**m), "sliceCount": slices, "instanceCount": count,
            "memorySizeMB": eighth * eighths, "multiprocessorCount": sm7 if slices == 7 else sm * slices,
            "copyEngineCount": slices, "decoderCount": 1 if pid == 7 else slices // 2,
            "jpegCount": 1 if pid in (7, 4) else 0, "ofaCount": 1 if pid in (7, 4) else 0,
            "placements": placements,
        })
    return {"computeSlices": 7, "memorySlices": 8, "gpuInstanceProfiles": profiles}


def gpu(i, bus, name, dev, table_name, mem_mb, numa, cpus, **extra):
    g = {
        "index": i, "busId": bus, "name": name, "pciDeviceId": dev,
        "uuid": "GPU-%08x-5a1d-4e2f-9c3b-%012x" % (0x5e000000 + i, 0xfa4e00000000 + int(bus[5:7], 16)),
        "serial": "165322%07d" % (1000 + i), "memoryTotalMB": mem_mb, "memoryUsedMB": 0, "memoryReservedMB": 512,
        "numaNode": numa, "cpuAffinity": cpus, "persistenceMode": True, "virtualizationMode": 0,
        "ecc": {"singleBitVolatile": 0, "doubleBitVolatile": 0, "singleBitAggregate": 0, "doubleBitAggregate": 0},
        "remappedRows": {"correctable": 0, "uncorrectable": 0, "pending": False, "failure": False},
        "retiredPagesPending": False, "processes": [],
    }
    if table_name:
        g.update({"profileTable": table_name, "migMode": False, "migPendingMode": False})
    g.update(extra)
    return g


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def server(name, comment, tables, gpus):
    write(os.path.join(REPO, "hardware-fixtures", name, "nvml.json"), {
        "_comment": comment, "simulated": True, "driverVersion": "550.54.15-simulated", "cudaDriverVersion": 12040,
        "profileTables": {t: table(t) for t in tables}, "gpus": gpus})


for t in TABLES:
    write(os.path.join(ROOT, t + ".json"), table(t))

H100_BUS = ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
            "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"]
NVSWITCH_BUS = ["0000:47:00.0", "0000:48:00.0", "0000:49:00.0", "0000:4a:00.0"]  # as in hardware-fixtures/dgx-h100.ttar
fabric = {"state": 3, "status": 0, "cliqueId": 0, "healthMask": 0, "clusterUuid": "00000000000000000000000000000000"}
server("dgx-h100", "SIMULATED: 8x H100 SXM5 80GB behind 4 NVSwitches, for the fake libnvidia-ml; not captured from hardware.",
       ["h100-80gb"],
       [gpu(i, b, "NVIDIA H100 80GB HBM3", "0x233010de", "h100-80gb", 81559, 0 if i < 4 else 1,
            "0-55,112-167" if i < 4 else "56-111,168-223",
            nvlinks=[{"active": True, "remoteBusId": NVSWITCH_BUS[l % 4]} for l in range(18)], fabric=fabric)
        for i, b in enumerate(H100_BUS)])

# NPS4 on 2x 64-core EPYC: node 4*socket+q holds cores 16q..16q+15 of that socket and their SMT siblings.
A100_NODES = [3, 3, 1, 1, 7, 7, 5, 5]
A100_CPUS = {n: "%d-%d,%d-%d" % ((n // 4) * 64 + (n % 4) * 16, (n // 4) * 64 + (n % 4) * 16 + 15,
                                 128 + (n // 4) * 64 + (n % 4) * 16, 128 + (n // 4) * 64 + (n % 4) * 16 + 15) for n in range(8)}
A100_BUS = ["0000:07:00.0", "0000:0f:00.0", "0000:47:00.0", "0000:4e:00.0",
            "0000:87:00.0", "0000:90:00.0", "0000:b7:00.0", "0000:bd:00.0"]
server("hgx-a100", "SIMULATED: 8x A100 SXM4 80GB (MIG mode changes need a GPU reset, as on Ampere), for the fake libnvidia-ml.",
       ["a100-80gb"],
       [gpu(i, b, "NVIDIA A100-SXM4-80GB", "0x20b210de", "a100-80gb", 81920, A100_NODES[i],
            A100_CPUS[A100_NODES[i]], migModeChangeNeedsReset=True,
            nvlinks=[{"active": True, "remoteBusId": "0000:%02x:00.0" % (0xc3 + l % 6)} for l in range(12)])
        for i, b in enumerate(A100_BUS)])

server("gh200", "SIMULATED: 1x GH200 (H100 96GB HBM3 MIG profiles), for the fake libnvidia-ml.",
       ["h100-96gb"],
       [gpu(0, "0009:01:00.0", "NVIDIA GH200 480GB", "0x234210de", "h100-96gb", 97871, 0, "0-71")])

server("workstation", "SIMULATED: one GPU without MIG, for the fake libnvidia-ml.", [],
       [gpu(0, "0000:01:00.0", "NVIDIA RTX A6000", "0x223010de", None, 49140, -1, "0-19")])
