using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Gpu;

/// <summary>What the driver knows about one GPU, joined to the sysfs PCI device by <see cref="Address"/>.</summary>
public sealed record GpuInfo
{
    public required uint Index { get; init; }

    public required PciAddress Address { get; init; }

    public required string Uuid { get; init; }

    public required string Name { get; init; }

    /// <summary>Only read when asked for.</summary>
    public string? Serial { get; init; }

    public uint PciDeviceId { get; init; }

    public ulong MemoryTotalBytes { get; init; }

    public ulong MemoryUsedBytes { get; init; }

    public bool PersistenceMode { get; init; }

    /// <summary>Null when the GPU has no MIG.</summary>
    public bool? MigEnabled { get; init; }

    public bool? MigPending { get; init; }

    /// <summary>nvmlGpuVirtualizationMode_t: 0 bare metal, 1 passthrough, 2 vGPU guest, 3 vGPU host, 4 vSGA.</summary>
    public int VirtualizationMode { get; init; }

    public int? NumaNode { get; init; }

    /// <summary>The CPUs NVML names as closest, in the kernel's list form (<c>0-55,112-167</c>).</summary>
    public string CpuAffinity { get; init; } = string.Empty;

    public IReadOnlyList<GpuNvLink> NvLinks { get; init; } = [];

    /// <summary>NVSwitch fabric registration; null where the GPU has none.</summary>
    public GpuFabric? Fabric { get; init; }

    public ulong EccCorrectedTotal { get; init; }

    public ulong EccUncorrectedTotal { get; init; }

    public uint RemappedRowsCorrectable { get; init; }

    public uint RemappedRowsUncorrectable { get; init; }

    public bool RemappedRowsPending { get; init; }

    public bool RetiredPagesPending { get; init; }

    public GpuHealth Health { get; init; }

    public string HealthReason { get; init; } = string.Empty;

    /// <summary>Whether the PCI device exists under the sysfs root (the join with discovery).</summary>
    public bool InSysfs { get; init; }
}

/// <summary>One NVLink: its index, whether it is up, and the PCI device at the other end (a GPU or an NVSwitch).</summary>
public sealed record GpuNvLink(uint Link, bool Active, string? RemoteBusId);

/// <summary>
/// nvmlGpuFabricInfo: registration state, and the cluster, clique and status once the registration completed (null
/// before that and where the fabric is not supported: NVML leaves zeros there, which are not ids).
/// </summary>
public sealed record GpuFabric(string? ClusterUuid, uint? CliqueId, string State, string? Status);
