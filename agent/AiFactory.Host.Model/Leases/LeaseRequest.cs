namespace AiFactory.Host.Model.Leases;

/// <summary>
/// What a tenant asks for: whole GPUs or a MIG slice, SR-IOV VFs, dedicated vCPUs and memory, and how strictly
/// all of it must sit on the devices' NUMA node(s). A value; validation is the planner's job.
/// </summary>
public sealed record LeaseRequest
{
    /// <summary>Who holds the lease (a tenant or VM name); free text, required.</summary>
    public required string Owner { get; init; }

    /// <summary>Whole GPUs for passthrough; null for none.</summary>
    public GpuRequest? Gpus { get; init; }

    /// <summary>One MIG instance; null for none. Exclusive with <see cref="Gpus"/>.</summary>
    public MigRequest? Mig { get; init; }

    /// <summary>SR-IOV virtual functions; null for none.</summary>
    public VfRequest? Vfs { get; init; }

    /// <summary>Dedicated guest vCPUs (each pinned to its own host CPU).</summary>
    public int Vcpus { get; init; }

    /// <summary>How vCPUs map onto SMT siblings (Nova's <c>hw:cpu_thread_policy</c>).</summary>
    public CpuThreadPolicy ThreadPolicy { get; init; } = CpuThreadPolicy.Prefer;

    /// <summary>Where QEMU's emulator threads run.</summary>
    public EmulatorThreadPolicy EmulatorThreads { get; init; } = EmulatorThreadPolicy.Share;

    /// <summary>Guest memory in bytes; a whole multiple of <see cref="PageSize"/>.</summary>
    public long MemoryBytes { get; init; }

    /// <summary>The page size backing guest memory.</summary>
    public PageSize PageSize { get; init; } = PageSize.Huge1G;

    /// <summary>Whether everything must sit on the devices' NUMA node(s).</summary>
    public NumaPolicy NumaPolicy { get; init; } = NumaPolicy.Required;

    /// <summary>How long the lease lives; null for until released.</summary>
    public TimeSpan? Ttl { get; init; }
}

/// <summary>Whole GPUs.</summary>
/// <param name="Count">How many (≥ 1).</param>
/// <param name="Model">A model name to match (case-insensitive substring of the PCI model name, e.g. "H100"); null for any.</param>
/// <param name="NvlinkConnected">True to require an NVLink-connected set (GPUs behind the host's NVSwitch fabric).</param>
public sealed record GpuRequest(int Count, string? Model = null, bool NvlinkConnected = false);

/// <summary>One MIG GPU instance.</summary>
/// <param name="Profile">The NVML profile name, e.g. <c>1g.10gb</c>.</param>
/// <param name="Model">A GPU model to match; null for any.</param>
public sealed record MigRequest(string Profile, string? Model = null);

/// <summary>SR-IOV virtual functions of compute-fabric NICs.</summary>
/// <param name="Count">How many (≥ 1).</param>
/// <param name="PairWithGpus">True to give each leased GPU one VF of the NIC under its PCIe switch (GPUDirect RDMA).</param>
public sealed record VfRequest(int Count, bool PairWithGpus = true);

/// <summary>Nova's <c>hw:cpu_thread_policy</c>.</summary>
public enum CpuThreadPolicy
{
    /// <summary>Use SMT siblings when present, packing vCPUs onto whole cores first.</summary>
    Prefer,

    /// <summary>One vCPU per physical core; the core's other threads are reserved and given to nobody.</summary>
    Isolate,

    /// <summary>vCPUs on SMT siblings of whole free cores only; refused on a host without SMT.</summary>
    Require,
}

/// <summary>Where the emulator threads run (libvirt <c>emulatorpin</c>).</summary>
public enum EmulatorThreadPolicy
{
    /// <summary>On the host's shared (host-reserved) CPUs.</summary>
    Share,

    /// <summary>On one extra dedicated CPU on the lease's first NUMA node.</summary>
    Isolate,
}

/// <summary>The page size backing guest memory.</summary>
public enum PageSize
{
    /// <summary>Ordinary 4 KiB pages.</summary>
    Small4K,

    /// <summary>2 MiB hugepages.</summary>
    Huge2M,

    /// <summary>1 GiB hugepages.</summary>
    Huge1G,
}

/// <summary>The NUMA policy, like Topology Manager's single-numa-node / best-effort.</summary>
public enum NumaPolicy
{
    /// <summary>CPUs and memory only on the devices' NUMA node(s) (or one node when there are no devices); refuse otherwise.</summary>
    Required,

    /// <summary>Prefer those nodes; spill to the nearest others, and say so in the plan.</summary>
    Preferred,
}

/// <summary>Sizes of <see cref="PageSize"/>.</summary>
public static class PageSizes
{
    /// <summary>The page size in KiB (4, 2048, 1048576).</summary>
    public static long KiB(this PageSize size) => size switch
    {
        PageSize.Small4K => 4,
        PageSize.Huge2M => 2048,
        PageSize.Huge1G => 1024 * 1024,
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, "unknown page size"),
    };

    /// <summary>The page size in bytes.</summary>
    public static long Bytes(this PageSize size) => size.KiB() * 1024;

    /// <summary>The page size for a KiB figure; null when not one of 4K, 2M, 1G.</summary>
    public static PageSize? FromKiB(long kib) => kib switch
    {
        4 => PageSize.Small4K,
        2048 => PageSize.Huge2M,
        1024 * 1024 => PageSize.Huge1G,
        _ => null,
    };

    /// <summary>The short name: 4K, 2M, 1G.</summary>
    public static string Name(this PageSize size) => size switch
    {
        PageSize.Small4K => "4K",
        PageSize.Huge2M => "2M",
        _ => "1G",
    };
}
