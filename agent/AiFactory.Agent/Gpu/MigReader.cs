using System.Globalization;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;

namespace AiFactory.Agent.Gpu;

/// <summary>Reads a GPU's MIG profile table and existing instances from NVML.</summary>
internal static class MigReader
{
    /// <summary>NVML_GPU_INSTANCE_PROFILE_COUNT in the nvml.h the agent was written against; indexes above are probed too.</summary>
    private const uint ProfileIndexLimit = 0x20;

    /// <summary>Compute instance profile indexes (NVML_COMPUTE_INSTANCE_PROFILE_*), probed for existing instances.</summary>
    private const uint ComputeProfileIndexLimit = 0x10;

    /// <summary>
    /// The profile table. NVML asks for a profile by its index (NVML_GPU_INSTANCE_PROFILE_1_SLICE = 0, ...) and
    /// answers with its id, which every other MIG call takes: on a real H100 1g.10gb is index 0, id 19.
    /// </summary>
    public static MigProfileTable ReadProfiles(INvml nvml, NvmlDevice device)
    {
        var profiles = new List<MigProfile>();
        ulong? deviceMemory = null;
        for (uint index = 0; index < ProfileIndexLimit; index++)
        {
            NvmlGpuInstanceProfile? p = nvml.GetGpuInstanceProfile(device, index);
            if (p is null)
            {
                continue;
            }

            IReadOnlyList<NvmlPlacement> placements = nvml.GetPossiblePlacements(device, p.Id);
            string name = p.Name;
            if (string.IsNullOrWhiteSpace(name) || name.StartsWith("MIG ", StringComparison.Ordinal))
            {
                deviceMemory ??= nvml.GetMemory(device).Total;
                name = MigProfileNames.Resolve(name, index, p.SliceCount, p.MemorySizeMB, deviceMemory.Value);
            }

            profiles.Add(new MigProfile(p.Id, name, p.SliceCount, p.MemorySizeMB, p.InstanceCount, [.. placements.Select(x => new MigPlacement(x.Start, x.Size))]));
        }

        return new MigProfileTable(profiles);
    }

    public static IReadOnlyList<MigInstance> ReadInstances(INvml nvml, NvmlDevice device, MigProfileTable table, ComputeProfileCache? cache = null) =>
        [.. ReadHandles(nvml, device, table, cache).Select(h => h.Instance).OrderBy(i => i.Placement.Start)];

    /// <summary>Instances with their live NVML handles (for destroying them).</summary>
    public static IReadOnlyList<(MigInstance Instance, NvmlGpuInstance Handle, IReadOnlyList<NvmlComputeInstance> Compute)> ReadHandles(INvml nvml, NvmlDevice device, MigProfileTable table, ComputeProfileCache? cache = null)
    {
        cache ??= new ComputeProfileCache();
        var result = new List<(MigInstance, NvmlGpuInstance, IReadOnlyList<NvmlComputeInstance>)>();
        foreach (MigProfile profile in table.Profiles)
        {
            foreach (NvmlGpuInstance gi in nvml.GetGpuInstances(device, profile.Id))
            {
                NvmlGpuInstanceInfo info = nvml.GetGpuInstanceInfo(gi);
                var computes = new List<MigComputeInstance>();
                var handles = new List<NvmlComputeInstance>();
                foreach ((uint ciProfile, string nvmlName, uint ciSlices) in cache.For(nvml, gi, info.ProfileId))
                {
                    // As nvidia-smi names them where the driver gives no name: the whole instance by its GPU
                    // instance's name, a part of it as "{slices}c.{name}".
                    string name = nvmlName.Length > 0 ? nvmlName
                        : ciSlices == profile.SliceCount ? profile.Name
                        : string.Create(CultureInfo.InvariantCulture, $"{ciSlices}c.{profile.Name}");
                    IReadOnlyList<NvmlComputeInstance> cis = nvml.GetComputeInstances(gi, ciProfile);
                    foreach (NvmlComputeInstance ci in cis)
                    {
                        NvmlComputeInstanceInfo ciInfo = nvml.GetComputeInstanceInfo(ci);
                        computes.Add(new MigComputeInstance(ciInfo.Id, ciInfo.ProfileId, name, ciInfo.Placement.Start, ciInfo.Placement.Size));
                        handles.Add(ci);
                    }
                }

                var instance = new MigInstance(info.Id, info.ProfileId, profile.Name, new MigPlacement(info.Placement.Start, info.Placement.Size), computes);
                result.Add((instance, gi, handles));
            }
        }

        return result;
    }

    /// <summary>
    /// The compute instance profiles each GPU instance profile supports (a driver constant), so a poll asks only for
    /// those instead of probing every compute profile id of every GPU instance.
    /// </summary>
    internal sealed class ComputeProfileCache
    {
        private readonly Dictionary<uint, (uint Id, string Name, uint SliceCount)[]> _byGpuProfile = [];

        public (uint Id, string Name, uint SliceCount)[] For(INvml nvml, NvmlGpuInstance gi, uint gpuInstanceProfile)
        {
            if (!_byGpuProfile.TryGetValue(gpuInstanceProfile, out var supported))
            {
                var list = new List<(uint, string, uint)>();
                for (uint index = 0; index < ComputeProfileIndexLimit; index++)
                {
                    if (nvml.GetComputeInstanceProfile(gi, index) is { } p)
                    {
                        list.Add((p.Id, p.Name.Trim(), p.SliceCount));
                    }
                }

                _byGpuProfile[gpuInstanceProfile] = supported = [.. list];
            }

            return supported;
        }
    }
}
