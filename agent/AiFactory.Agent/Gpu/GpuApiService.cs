using System.Globalization;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Grpc.Services;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Planning.Mig;

namespace AiFactory.Agent.Gpu;

/// <summary><c>aifactory.agent.v1.Gpu</c>: GPU inventory and health, MIG layouts, plans, applies and mode changes.</summary>
internal sealed class GpuApiService(GpuNvml nvml, GpuInventory inventory, MigApplier applier, HostCapabilities capabilities)
{
    public const string ServiceName = "aifactory.agent.v1.Gpu";

    public ServiceDefinition Definition() =>
        ServiceDefinition.CreateBuilder(ServiceName)
            .AddUnary<ListGpusRequest, ListGpusResponse>("ListGpus", ListGpusRequest.Parser, (r, _) => Run(() => ListGpus(r)))
            .AddUnary<GetMigLayoutRequest, MigLayout>("GetMigLayout", GetMigLayoutRequest.Parser, (r, _) => Run(() => Layout(Required(r.Gpu, "gpu"))))
            .AddUnary<PlanMigRequest, MigPlanResult>("PlanMig", PlanMigRequest.Parser, (r, _) => Run(() => PlanMig(r)))
            .AddUnary<ApplyMigRequest, ApplyMigResponse>("ApplyMig", ApplyMigRequest.Parser, (r, _) => Run(() => ApplyMig(r)))
            .AddUnary<SetMigModeRequest, SetMigModeResponse>("SetMigMode", SetMigModeRequest.Parser, (r, _) => Run(() => SetMigMode(r)))
            .Build();

    private ListGpusResponse ListGpus(ListGpusRequest request)
    {
        var response = new ListGpusResponse { NvmlAvailable = nvml.Nvml is not null, NvmlError = nvml.Error ?? string.Empty };
        if (nvml.Nvml is null)
        {
            return response;
        }

        response.DriverVersion = nvml.Nvml.DriverVersion;
        response.CudaDriverVersion = nvml.Nvml.CudaDriverVersion;
        response.Gpus.AddRange(inventory.Read(request.IncludeSerial).Select(ToProto));
        return response;
    }

    private MigLayout Layout(string gpu)
    {
        INvml api = nvml.Require();
        var (device, address, _) = inventory.Resolve(gpu);
        var layout = new MigLayout { BusId = address.ToString() };
        if (api.GetMigMode(device) is not (bool current, bool pending))
        {
            return layout;
        }

        layout.MigEnabled = current;
        layout.MigPending = pending;
        MigProfileTable table = MigReader.ReadProfiles(api, device);
        layout.ComputeSlices = table.ComputeSlices;
        layout.MemorySlices = table.MemorySlices;
        foreach (MigProfile p in table.Profiles)
        {
            var info = new MigProfileInfo { Id = p.Id, Name = p.Name, SliceCount = p.SliceCount, MemoryMib = p.MemoryMiB, InstanceCount = p.InstanceCount };
            info.Placements.AddRange(p.Placements.Select(Range));
            if (current)
            {
                info.RemainingCapacity = api.GetRemainingCapacity(device, p.Id);
            }

            layout.Profiles.Add(info);
        }

        if (current)
        {
            layout.Instances.AddRange(MigReader.ReadInstances(api, device, table).Select(ToProto));
        }

        return layout;
    }

    private MigPlanResult PlanMig(PlanMigRequest request)
    {
        string gpu = Required(request.Gpu, "gpu");
        IReadOnlyList<string> profiles;
        if (request.MigPartedConfig.Length > 0)
        {
            MigPartedWanted wanted = Parted(gpu, request.MigPartedConfig, request.MigPartedSelect);
            if (wanted.Skipped is not null)
            {
                return new MigPlanResult { BusId = inventory.Resolve(gpu).Address.ToString(), Skipped = wanted.Skipped, Policy = MigPlanner.Name };
            }

            profiles = wanted.Profiles!;
        }
        else
        {
            profiles = Profiles(request.Profiles);
        }

        MigPlan plan = applier.Plan(gpu, profiles, request.KeepExisting, out var address);
        return ToProto(address.ToString(), plan);
    }

    internal ApplyMigResponse ApplyMig(ApplyMigRequest request)
    {
        RequireWritable();
        string gpu = Required(request.Gpu, "gpu");
        IReadOnlyList<string> profiles;
        if (request.MigPartedConfig.Length > 0)
        {
            MigPartedWanted wanted = Parted(gpu, request.MigPartedConfig, request.MigPartedSelect);
            if (wanted.Skipped is not null)
            {
                string bus = inventory.Resolve(gpu).Address.ToString();
                return new ApplyMigResponse { Plan = new MigPlanResult { BusId = bus, Skipped = wanted.Skipped, Policy = MigPlanner.Name }, Layout = Layout(bus) };
            }

            profiles = wanted.Profiles!;
        }
        else
        {
            profiles = Profiles(request.Profiles);
        }

        MigApplyResult result = applier.Apply(gpu, profiles, request.KeepExisting);
        var response = new ApplyMigResponse { Plan = ToProto(result.Address.ToString(), result.Plan) };
        response.Steps.AddRange(result.Steps);
        response.OrphansRemoved.AddRange(result.OrphansRemoved);
        response.Layout = Layout(result.Address.ToString());
        if (result.Plan.IsRefused)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"{result.Address}: {result.Plan.Refusal}");
        }

        return response;
    }

    internal SetMigModeResponse SetMigMode(SetMigModeRequest request)
    {
        RequireWritable();
        MigModeResult r = applier.SetMode(Required(request.Gpu, "gpu"), request.Enabled, request.Reset, ResetAllowed);
        return new SetMigModeResponse
        {
            BusId = r.Address.ToString(),
            MigEnabled = r.Enabled,
            MigPending = r.Pending,
            ResetRequired = r.ResetRequired,
            ResetDone = r.ResetDone,
            Message = r.Message,
        };
    }

    /// <summary>A library other than the system's: the fake NVML of the tests and the demo, on a fixture tree.</summary>
    private bool FakeLibrary => nvml.Library != "libnvidia-ml.so.1";

    /// <summary>A reset writes the device's sysfs reset file: only where sysfs may be written, or on a fake's fixture.</summary>
    private bool ResetAllowed => !capabilities.ReadOnly || FakeLibrary;

    /// <summary>
    /// MIG changes go through NVML to the GPUs themselves. Never when the operator asked for read-only; with the
    /// system's library only where the agent may change the machine (root, the real /sys and /proc), so an agent
    /// serving a fixture tree cannot change the real GPUs; with a fake library, which changes nothing but its state
    /// file, also on a fixture tree and without root.
    /// </summary>
    private void RequireWritable()
    {
        if (capabilities.ReadOnlyAsked)
        {
            throw new RpcException(StatusCode.FailedPrecondition, "the agent is read-only (read-only: true was asked for): no MIG change made");
        }

        if (FakeLibrary || !capabilities.ReadOnly)
        {
            return;
        }

        throw Environment.IsPrivilegedProcess
            ? new RpcException(StatusCode.FailedPrecondition, $"the agent is read-only here ({capabilities.ReadOnlyReason}): no MIG change made")
            : new RpcException(StatusCode.PermissionDenied, "MIG changes need root (the agent is not running as root)");
    }

    private static async Task<T> Run<T>(Func<T> action)
    {
        await Task.Yield();
        try
        {
            return action();
        }
        catch (NvmlException ex)
        {
            throw new RpcException(ex.Code switch
            {
                NvmlReturn.InUse or NvmlReturn.InvalidState or NvmlReturn.ResetRequired => StatusCode.FailedPrecondition,
                NvmlReturn.InsufficientResources => StatusCode.ResourceExhausted,
                NvmlReturn.GpuIsLost => StatusCode.Unavailable,
                NvmlReturn.NotSupported => StatusCode.FailedPrecondition,
                NvmlReturn.NoPermission => StatusCode.PermissionDenied,
                _ => StatusCode.Internal,
            }, ex.Message);
        }
        catch (MigRefusedException ex)
        {
            throw new RpcException(StatusCode.FailedPrecondition, ex.Message);
        }
        catch (KeyNotFoundException ex)
        {
            throw new RpcException(StatusCode.NotFound, "gpu: " + ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            throw new RpcException(ex.Message.StartsWith("NVML is not available", StringComparison.Ordinal) ? StatusCode.Unavailable : StatusCode.Aborted, ex.Message);
        }
    }

    /// <summary>Resolves a mig-parted config for one GPU; a file that does not parse or an unknown name is InvalidArgument.</summary>
    private MigPartedWanted Parted(string gpu, string text, string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new RpcException(StatusCode.InvalidArgument, "mig_parted_select: required with mig_parted_config (a name under mig-configs)");
        }

        try
        {
            return MigPartedSelection.Resolve(nvml.Require(), text, name, gpu, inventory);
        }
        catch (FormatException ex)
        {
            throw new RpcException(StatusCode.InvalidArgument, "mig_parted_config: " + ex.Message);
        }
        catch (KeyNotFoundException ex) when (ex.Message.StartsWith("no mig-config", StringComparison.Ordinal))
        {
            throw new RpcException(StatusCode.InvalidArgument, "mig_parted_select: " + ex.Message);
        }
    }

    private static string Required(string value, string field) =>
        string.IsNullOrWhiteSpace(value) ? throw new RpcException(StatusCode.InvalidArgument, $"{field}: required (an index, a bus id or a UUID)") : value;

    /// <summary>The longest MIG profile name taken (NVML's are like "1g.10gb+me"): a longer one is refused, not echoed in a refusal.</summary>
    internal const int MaxProfileName = 64;

    internal static List<string> Profiles(IEnumerable<string> profiles)
    {
        var list = profiles.SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (list.FirstOrDefault(p => p.Length > MaxProfileName) is { } longName)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"profiles: \"{longName[..32]}…\" is {longName.Length} characters long; a MIG profile name has at most {MaxProfileName}");
        }

        if (list.FirstOrDefault(p => p.Contains('@', StringComparison.Ordinal)) is { } placed)
        {
            // The planner chooses placements here; a node profile's YAML (mig: layout) is where they are pinned.
            throw new RpcException(StatusCode.InvalidArgument, $"profiles: \"{placed}\" pins a placement, which mig plan/apply do not take (they choose placements); give \"{placed[..placed.IndexOf('@', StringComparison.Ordinal)]}\", or pin it in a node profile's mig layout (aifactoryctl profile apply)");
        }

        return list.Count > 0 ? list : throw new RpcException(StatusCode.InvalidArgument, "profiles: at least one profile name, e.g. 3g.40gb");
    }

    private static MigPlacementRange Range(MigPlacement p) => new() { Start = p.Start, Size = p.Size };

    internal static MigGpuInstanceInfo ToProto(MigInstance i)
    {
        var info = new MigGpuInstanceInfo { Id = i.GpuInstanceId, Profile = i.Profile, Placement = Range(i.Placement), Orphaned = i.IsOrphaned };
        info.ComputeInstances.AddRange(i.ComputeInstances.Select(c => new MigComputeInstanceInfo { Id = c.Id, Profile = c.Profile, Start = c.Start, Size = c.Size }));
        return info;
    }

    internal static MigPlanResult ToProto(string busId, MigPlan plan)
    {
        var result = new MigPlanResult
        {
            BusId = busId,
            Refused = plan.IsRefused,
            Refusal = plan.Refusal ?? string.Empty,
            LargestFreeRun = plan.LargestFreeRun,
            Policy = MigPlanner.Name,
        };
        result.Keep.AddRange(plan.Keep.Select(ToProto));
        result.Destroy.AddRange(plan.Destroy.Select(ToProto));
        result.Create.AddRange(plan.Create.Select(c => new MigCreateStep { Profile = c.Profile.Name, Placement = Range(c.Placement) }));
        return result;
    }

    internal static GpuDevice ToProto(GpuInfo g)
    {
        var d = new GpuDevice
        {
            Index = g.Index,
            BusId = g.Address == default ? string.Empty : g.Address.ToString(), // a GPU NVML gave no bus id for
            Uuid = g.Uuid,
            Name = g.Name,
            Serial = g.Serial ?? string.Empty,
            PciDeviceId = "0x" + g.PciDeviceId.ToString("x8", CultureInfo.InvariantCulture),
            MemoryTotalBytes = g.MemoryTotalBytes,
            MemoryUsedBytes = g.MemoryUsedBytes,
            PersistenceMode = g.PersistenceMode,
            MigCapable = g.MigEnabled is not null,
            MigEnabled = g.MigEnabled ?? false,
            MigPending = g.MigPending ?? false,
            VirtualizationMode = g.VirtualizationMode switch { 0 => "none", 1 => "passthrough", 2 => "vgpu", 3 => "host-vgpu", 4 => "host-vsga", _ => "unknown" },
            NumaNode = g.NumaNode ?? -1,
            CpuAffinity = g.CpuAffinity,
            FabricState = g.Fabric?.State ?? string.Empty,
            EccCorrectedTotal = g.EccCorrectedTotal,
            EccUncorrectedTotal = g.EccUncorrectedTotal,
            RemappedRowsCorrectable = g.RemappedRowsCorrectable,
            RemappedRowsUncorrectable = g.RemappedRowsUncorrectable,
            RemappedRowsPending = g.RemappedRowsPending,
            RetiredPagesPending = g.RetiredPagesPending,
            Health = g.Health switch
            {
                GpuHealth.Healthy => GpuHealthState.Healthy,
                GpuHealth.Degraded => GpuHealthState.Degraded,
                _ => GpuHealthState.Unhealthy,
            },
            HealthReason = g.HealthReason,
            InSysfs = g.InSysfs,
        };
        if (g.Fabric is { ClusterUuid: { } cluster, CliqueId: { } clique })
        {
            d.FabricClique = cluster + "/" + clique.ToString(CultureInfo.InvariantCulture);
        }

        d.Nvlinks.AddRange(g.NvLinks.Select(l => new NvLink { Link = l.Link, Active = l.Active, RemoteBusId = l.RemoteBusId ?? string.Empty }));
        return d;
    }
}
