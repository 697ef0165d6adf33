using System.Globalization;
using AiFactory.Grpc;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Explicit conversions between the wire/checkpoint messages (proto/aifactory/agent/v1/lease.proto) and the live
/// lease model. Wire input is checked here, field by field; errors name the wire field.
/// </summary>
internal static class LeaseMessages
{
    /// <summary>The request a spec asks for, and its absolute expiry; throws InvalidArgument naming the field.</summary>
    public static (LeaseRequest Request, DateTimeOffset? ExpiresAt) FromSpec(Wire.LeaseSpec? spec, DateTimeOffset now)
    {
        if (spec is null)
        {
            throw Invalid("spec", "is required");
        }

        if (OwnerProblem(spec.Owner) is { } owner)
        {
            throw Invalid("spec.owner", owner);
        }

        if (spec.GpuCount > 0 && spec.MigProfile.Length > 0)
        {
            throw Invalid("spec.mig_profile", "a lease takes whole GPUs (gpu_count) or one MIG instance, not both");
        }

        if (spec.GpuCount > 1024 || spec.VfCount > 4096 || spec.Vcpus > 8192)
        {
            throw Invalid(spec.GpuCount > 1024 ? "spec.gpu_count" : spec.VfCount > 4096 ? "spec.vf_count" : "spec.vcpus", "is beyond any host");
        }

        if (spec.MemoryBytes > long.MaxValue / 2)
        {
            throw Invalid("spec.memory_bytes", string.Create(CultureInfo.InvariantCulture, $"{spec.MemoryBytes} is beyond any host"));
        }

        DateTimeOffset? expires = null;
        TimeSpan? ttl = null;
        if (spec.TtlSeconds != 0 && spec.ExpiresUnixMs != 0)
        {
            throw Invalid("spec.ttl_seconds", "give ttl_seconds or expires_unix_ms, not both");
        }

        if (spec.TtlSeconds < 0)
        {
            throw Invalid("spec.ttl_seconds", string.Create(CultureInfo.InvariantCulture, $"{spec.TtlSeconds} is in the past; a TTL must be positive"));
        }

        if (spec.TtlSeconds > 0)
        {
            ttl = TimeSpan.FromSeconds(Math.Min(spec.TtlSeconds, 100L * 365 * 86400));
            expires = now + ttl;
        }

        if (spec.ExpiresUnixMs != 0)
        {
            DateTimeOffset at = DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(spec.ExpiresUnixMs, 0, 253402300799000));
            if (at <= now)
            {
                throw Invalid("spec.expires_unix_ms", $"{at:O} is in the past (now {now:O})");
            }

            expires = at;
            ttl = at - now;
        }

        var request = new LeaseRequest
        {
            Owner = spec.Owner,
            Gpus = spec.GpuCount > 0 ? new GpuRequest((int)spec.GpuCount, spec.GpuModel.Length > 0 ? spec.GpuModel : null, spec.GpuNvlink) : null,
            Mig = spec.MigProfile.Length > 0 ? new MigRequest(spec.MigProfile, spec.GpuModel.Length > 0 ? spec.GpuModel : null) : null,
            Vfs = spec.VfCount > 0 ? new VfRequest((int)spec.VfCount, !spec.VfUnpaired) : null,
            Vcpus = (int)spec.Vcpus,
            ThreadPolicy = spec.ThreadPolicy switch
            {
                Wire.CpuThreadPolicy.Unspecified or Wire.CpuThreadPolicy.Prefer => CpuThreadPolicy.Prefer,
                Wire.CpuThreadPolicy.Isolate => CpuThreadPolicy.Isolate,
                Wire.CpuThreadPolicy.Require => CpuThreadPolicy.Require,
                _ => throw Invalid("spec.thread_policy", $"unknown value {(int)spec.ThreadPolicy}"),
            },
            EmulatorThreads = spec.EmulatorThreads switch
            {
                Wire.EmulatorThreadPolicy.Unspecified or Wire.EmulatorThreadPolicy.Share => EmulatorThreadPolicy.Share,
                Wire.EmulatorThreadPolicy.Isolate => EmulatorThreadPolicy.Isolate,
                _ => throw Invalid("spec.emulator_threads", $"unknown value {(int)spec.EmulatorThreads}"),
            },
            MemoryBytes = (long)spec.MemoryBytes,
            PageSize = FromWire(spec.PageSize) ?? throw Invalid("spec.page_size", $"unknown value {(int)spec.PageSize}"),
            NumaPolicy = spec.NumaPolicy switch
            {
                Wire.NumaPolicy.Unspecified or Wire.NumaPolicy.Required => NumaPolicy.Required,
                Wire.NumaPolicy.Preferred => NumaPolicy.Preferred,
                _ => throw Invalid("spec.numa_policy", $"unknown value {(int)spec.NumaPolicy}"),
            },
            Ttl = ttl,
        };
        return (request, expires);
    }

    /// <summary>
    /// The status of a planner refusal: INVALID_ARGUMENT for a wrong request, RESOURCE_EXHAUSTED for a shortage,
    /// FAILED_PRECONDITION for what the host uses (processes on a GPU).
    /// </summary>
    public static StatusCode StatusOf(RefusalKind kind) => kind switch
    {
        RefusalKind.InvalidRequest => StatusCode.InvalidArgument,
        RefusalKind.InUse => StatusCode.FailedPrecondition,
        _ => StatusCode.ResourceExhausted,
    };

    /// <summary>The longest owner, in UTF-8 bytes: a tenant or VM name, never a document (every listing carries it).</summary>
    public const int MaxOwnerBytes = 256;

    /// <summary>Why <paramref name="owner"/> cannot be a lease's owner (too long, a control or unprintable character), or null.</summary>
    public static string? OwnerProblem(string owner)
    {
        int bytes = System.Text.Encoding.UTF8.GetByteCount(owner);
        if (bytes > MaxOwnerBytes)
        {
            return string.Create(CultureInfo.InvariantCulture, $"is {bytes} bytes long; at most {MaxOwnerBytes}");
        }

        for (int i = 0; i < owner.Length; i++)
        {
            UnicodeCategory category = char.GetUnicodeCategory(owner, i);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
            {
                return string.Create(CultureInfo.InvariantCulture, $"holds an unprintable character (U+{(int)owner[i]:X4}) at offset {i}; only printable characters");
            }
        }

        return null;
    }

    /// <summary>The wire field a planner refusal names.</summary>
    public static string WireField(string plannerField) => plannerField switch
    {
        "owner" => "spec.owner",
        "gpus.count" => "spec.gpu_count",
        "gpus.model" => "spec.gpu_model",
        "gpus.nvlink" => "spec.gpu_nvlink",
        "mig" or "mig.profile" => "spec.mig_profile",
        "vfs.count" => "spec.vf_count",
        "vcpus" => "spec.vcpus",
        "thread_policy" => "spec.thread_policy",
        "emulator_threads" => "spec.emulator_threads",
        "memory" => "spec.memory_bytes",
        "ttl" => "spec.ttl_seconds",
        _ => "spec." + plannerField,
    };

    public static Wire.LeasePageSize ToWire(PageSize size) => size switch
    {
        PageSize.Small4K => Wire.LeasePageSize._4K,
        PageSize.Huge2M => Wire.LeasePageSize._2M,
        _ => Wire.LeasePageSize._1G,
    };

    public static PageSize? FromWire(Wire.LeasePageSize size) => size switch
    {
        Wire.LeasePageSize.Unspecified or Wire.LeasePageSize._1G => PageSize.Huge1G,
        Wire.LeasePageSize._2M => PageSize.Huge2M,
        Wire.LeasePageSize._4K => PageSize.Small4K,
        _ => null,
    };

    /// <summary>The wire form of a lease (also what the checkpoint stores).</summary>
    public static Wire.Lease ToWire(Lease lease, Wire.LeaseSpec spec, DateTimeOffset? endedAt = null)
    {
        LeasePlan plan = lease.Plan;
        var m = new Wire.Lease
        {
            Id = lease.Id,
            Owner = lease.Owner,
            CreatedUnixMs = lease.CreatedAt.ToUnixTimeMilliseconds(),
            ExpiresUnixMs = lease.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0,
            State = lease.State switch
            {
                LeaseState.Active => Wire.LeaseState.Active,
                LeaseState.Attached => Wire.LeaseState.Attached,
                LeaseState.Released => Wire.LeaseState.Released,
                LeaseState.Granting => Wire.LeaseState.Granting,
                _ => Wire.LeaseState.Expired,
            },
            Spec = spec,
            EmulatorCpus = plan.EmulatorCpus.ToString(),
            EmulatorIsolated = plan.EmulatorIsolated,
            PageSize = ToWire(plan.PageSize),
            FragmentationAfter = new Wire.LeaseFragmentation
            {
                FreeWholeGpus = plan.FragmentationAfter.FreeWholeGpus,
                FreeWholeNumaNodes = plan.FragmentationAfter.FreeWholeNumaNodes,
                FreeWholeCores = plan.FragmentationAfter.FreeWholeCores,
                FreeCpus = plan.FragmentationAfter.FreeCpus,
                SplitCores = plan.FragmentationAfter.SplitCores,
            },
            Domain = lease.Domain ?? string.Empty,
            LibvirtUri = lease.LibvirtUri ?? string.Empty,
            EndedUnixMs = endedAt?.ToUnixTimeMilliseconds() ?? 0,
        };
        foreach (LeasedDevice d in plan.Devices)
        {
            m.Devices.Add(new Wire.LeasedDevice
            {
                Address = d.Address.ToString(),
                Role = d.Role switch
                {
                    DeviceRole.Gpu => Wire.LeasedDeviceRole.Gpu,
                    DeviceRole.VirtualFunction => Wire.LeasedDeviceRole.VirtualFunction,
                    _ => Wire.LeasedDeviceRole.IommuCompanion,
                },
                NumaNode = d.NumaNode ?? -1,
                OriginalDriver = d.OriginalDriver ?? string.Empty,
                Model = d.Model ?? string.Empty,
                PairedGpu = d.PairedGpu?.ToString() ?? string.Empty,
                OriginalDriverOverride = d.OriginalDriverOverride ?? string.Empty,
            });
        }

        if (plan.Mig is { } mig)
        {
            m.Mig = new Wire.LeaseMigPlacement { Gpu = mig.Gpu.ToString(), Profile = mig.Profile, PlacementStart = mig.PlacementStart, PlacementSize = mig.PlacementSize };
        }

        foreach (NodeAllocation n in plan.Nodes)
        {
            var node = new Wire.LeaseNode { Node = n.Node, ReservedSiblings = n.ReservedSiblings.ToString(), MemoryBytes = (ulong)n.MemoryBytes };
            node.VcpuCpus.AddRange(n.VcpuCpus);
            m.Nodes.Add(node);
        }

        m.Spill.AddRange(plan.Spill);
        return m;
    }

    /// <summary>
    /// The live lease from its stored form. Throws <see cref="FormatException"/> naming the lease and field for
    /// anything that does not parse (the ledger then sets the file aside).
    /// </summary>
    public static Lease FromWire(Wire.Lease m)
    {
        try
        {
            (LeaseRequest request, _) = FromSpec(m.Spec, DateTimeOffset.FromUnixTimeMilliseconds(m.CreatedUnixMs - 1));
            var plan = new LeasePlan
            {
                Devices = [.. m.Devices.Select(d => new LeasedDevice(
                    PciAddress.Parse(d.Address),
                    d.Role switch
                    {
                        Wire.LeasedDeviceRole.Gpu => DeviceRole.Gpu,
                        Wire.LeasedDeviceRole.VirtualFunction => DeviceRole.VirtualFunction,
                        Wire.LeasedDeviceRole.IommuCompanion => DeviceRole.IommuCompanion,
                        _ => throw new FormatException($"device {d.Address}: unknown role {(int)d.Role}"),
                    },
                    d.NumaNode < 0 ? null : d.NumaNode,
                    d.OriginalDriver.Length > 0 ? d.OriginalDriver : null,
                    d.Model.Length > 0 ? d.Model : null,
                    d.PairedGpu.Length > 0 ? PciAddress.Parse(d.PairedGpu) : null,
                    d.OriginalDriverOverride.Length > 0 ? d.OriginalDriverOverride : null))],
                Mig = m.Mig is { } mig ? new MigPlacement(PciAddress.Parse(mig.Gpu), mig.Profile, mig.PlacementStart, mig.PlacementSize) : null,
                Nodes = [.. m.Nodes.Select(n => new NodeAllocation(n.Node, [.. n.VcpuCpus], CpuSet.Parse(n.ReservedSiblings), (long)n.MemoryBytes))],
                EmulatorCpus = CpuSet.Parse(m.EmulatorCpus),
                EmulatorIsolated = m.EmulatorIsolated,
                PageSize = FromWire(m.PageSize) ?? throw new FormatException($"unknown page size {(int)m.PageSize}"),
                Spill = [.. m.Spill],
                FragmentationAfter = m.FragmentationAfter is { } f
                    ? new Fragmentation(f.FreeWholeGpus, f.FreeWholeNumaNodes, f.FreeWholeCores, f.FreeCpus, f.SplitCores)
                    : Fragmentation.Empty,
            };
            return new Lease
            {
                Id = m.Id,
                Owner = m.Owner,
                CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(m.CreatedUnixMs),
                ExpiresAt = m.ExpiresUnixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(m.ExpiresUnixMs),
                State = m.State switch
                {
                    Wire.LeaseState.Active => LeaseState.Active,
                    Wire.LeaseState.Attached => LeaseState.Attached,
                    Wire.LeaseState.Released => LeaseState.Released,
                    Wire.LeaseState.Expired => LeaseState.Expired,
                    Wire.LeaseState.Granting => LeaseState.Granting,
                    _ => throw new FormatException($"unknown state {(int)m.State}"),
                },
                Request = request with { Ttl = null },
                Plan = plan,
                Domain = m.Domain.Length > 0 ? m.Domain : null,
                LibvirtUri = m.LibvirtUri.Length > 0 ? m.LibvirtUri : null,
            };
        }
        catch (Exception ex) when (ex is FormatException or RpcException or ArgumentException)
        {
            throw new FormatException($"lease \"{m.Id}\": {(ex is RpcException r ? r.Detail : ex.Message)}", ex);
        }
    }

    private static RpcException Invalid(string field, string why) => new(StatusCode.InvalidArgument, $"{field}: {why}");
}
