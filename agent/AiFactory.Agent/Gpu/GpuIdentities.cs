using System.Globalization;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// The UUID and bus id NVML reports for each GPU, and those two GPUs share. A lease or a MIG layout addressed by a
/// UUID or bus id that two GPUs report could reach the wrong one, so a GPU found here is neither partitioned nor
/// leased.
/// </summary>
internal static class GpuIdentities
{
    /// <summary>One GPU as NVML names it.</summary>
    public readonly record struct Identity(uint Index, PciAddress Address, string Uuid)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"GPU {Index} ({Address})");
    }

    /// <summary>Every GPU NVML gives a handle, bus id and UUID for; the others are left out (they are reported as failing elsewhere).</summary>
    public static IReadOnlyList<Identity> Read(INvml api) => Read(api, out _);

    /// <summary>As <see cref="Read(INvml)"/>, with how many GPUs NVML counts (more than returned when some could not be named).</summary>
    public static IReadOnlyList<Identity> Read(INvml api, out uint count)
    {
        var result = new List<Identity>();
        count = api.DeviceCount;
        for (uint i = 0; i < count; i++)
        {
            try
            {
                NvmlDevice device = api.GetDevice(i);
                result.Add(new Identity(i, GpuInventory.Address(api, device), api.GetUuid(device)));
            }
            catch (Exception ex) when (ex is NvmlException or FormatException)
            {
                // A GPU NVML cannot name cannot collide with another name.
            }
        }

        return result;
    }

    /// <summary>
    /// Per GPU index, why it is ambiguous ("NVML reports UUID GPU-... for both GPU 0 (0000:18:00.0) and GPU 3
    /// (0000:5d:00.0)"); GPUs with their own UUID and bus id are absent.
    /// </summary>
    public static IReadOnlyDictionary<uint, string> Duplicates(IReadOnlyList<Identity> gpus)
    {
        var result = new Dictionary<uint, string>();
        void Add(IGrouping<string, Identity> group, string what)
        {
            string message = $"NVML reports {what} {group.Key} for both {string.Join(" and ", group)}";
            foreach (Identity gpu in group)
            {
                result[gpu.Index] = result.TryGetValue(gpu.Index, out string? earlier) ? earlier + "; " + message : message;
            }
        }

        foreach (var group in gpus.Where(g => g.Uuid.Length > 0).GroupBy(g => g.Uuid, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            Add(group, "UUID");
        }

        foreach (var group in gpus.GroupBy(g => g.Address.ToString(), StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            Add(group, "bus id");
        }

        return result;
    }

    /// <summary>
    /// Throws <see cref="MigRefusedException"/> when GPU <paramref name="index"/> is among <paramref name="duplicates"/>
    /// (<see cref="Duplicates"/>): it shares its UUID or bus id with another.
    /// </summary>
    public static void RefuseIfAmbiguous(IReadOnlyDictionary<uint, string> duplicates, uint index, PciAddress address, string uuid)
    {
        if (duplicates.TryGetValue(index, out string? why))
        {
            throw new MigRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"GPU {index} ({address}, UUID {uuid}) is ambiguous: {why}; a MIG layout or lease addressed by UUID or bus id could reach the other device, so it is neither partitioned nor leased (check the driver and nvidia-smi -L)"));
        }
    }
}
