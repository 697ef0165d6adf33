using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;

namespace AiFactory.Agent.Gpu;

/// <summary>One GPU's sample: batched field values, memory, and its MIG instances.</summary>
internal sealed record GpuSample(uint Index, ulong MemoryUsedBytes, ulong PowerMilliwatts, ulong MemoryTemperatureC, ulong EccCorrected, ulong EccUncorrected, bool RemappedRowsPending, bool RetiredPagesPending, IReadOnlyList<MigInstance> Instances);

/// <summary>
/// The periodic telemetry poll of every GPU. Health counters, power and temperature come from one
/// nvmlDeviceGetFieldValues call per GPU instead of one call each; the MIG profile table is read once and cached
/// (it does not change while the driver runs), and so are the compute profiles each GPU instance profile supports,
/// so a poll reads only the instances.
/// </summary>
internal sealed class GpuTelemetry(INvml nvml)
{
    private static readonly uint[] Fields =
    [
        NvmlFieldIds.PowerInstant, NvmlFieldIds.MemoryTemperature, NvmlFieldIds.EccSingleBitAggregate, NvmlFieldIds.EccDoubleBitAggregate,
        NvmlFieldIds.RemappedPending, NvmlFieldIds.RetiredPending,
    ];

    private readonly Dictionary<nint, MigProfileTable?> _tables = [];
    private readonly MigReader.ComputeProfileCache _computeProfiles = new();

    public IReadOnlyList<GpuSample> Poll()
    {
        uint count = nvml.DeviceCount;
        var samples = new List<GpuSample>((int)count);
        Span<NvmlFieldValue> values = stackalloc NvmlFieldValue[Fields.Length];
        for (uint i = 0; i < count; i++)
        {
            NvmlDevice device = nvml.GetDevice(i);
            for (int f = 0; f < Fields.Length; f++)
            {
                values[f] = new NvmlFieldValue { FieldId = Fields[f] };
            }

            nvml.GetFieldValues(device, values);
            NvmlMemory memory = nvml.GetMemory(device);
            if (!_tables.TryGetValue(device.Handle, out MigProfileTable? table))
            {
                table = nvml.GetMigMode(device) is { Current: true } ? MigReader.ReadProfiles(nvml, device) : null;
                _tables[device.Handle] = table;
            }

            samples.Add(new GpuSample(
                i,
                memory.Used,
                Value(values[0]),
                Value(values[1]),
                Value(values[2]),
                Value(values[3]),
                Value(values[4]) != 0,
                Value(values[5]) != 0,
                table is null ? [] : MigReader.ReadInstances(nvml, device, table, _computeProfiles)));
        }

        return samples;
    }

    /// <summary>The same sample read the one-call-per-value way, for comparison in the benchmark.</summary>
    public IReadOnlyList<GpuSample> PollUnbatched()
    {
        uint count = nvml.DeviceCount;
        var samples = new List<GpuSample>((int)count);
        for (uint i = 0; i < count; i++)
        {
            NvmlDevice device = nvml.GetDevice(i);
            NvmlMemory memory = nvml.GetMemory(device);
            NvmlRemappedRows? rows = nvml.GetRemappedRows(device);
            MigProfileTable? table = nvml.GetMigMode(device) is { Current: true } ? MigReader.ReadProfiles(nvml, device) : null;
            samples.Add(new GpuSample(
                i,
                memory.Used,
                Field(device, NvmlFieldIds.PowerInstant),
                Field(device, NvmlFieldIds.MemoryTemperature),
                nvml.GetTotalEccErrors(device, uncorrected: false, aggregate: true),
                nvml.GetTotalEccErrors(device, uncorrected: true, aggregate: true),
                rows?.Pending ?? false,
                nvml.GetRetiredPagesPending(device) ?? false,
                table is null ? [] : MigReader.ReadInstances(nvml, device, table)));
        }

        return samples;
    }

    private ulong Field(NvmlDevice device, uint id)
    {
        var one = new NvmlFieldValue[] { new() { FieldId = id } };
        nvml.GetFieldValues(device, one);
        return Value(one[0]);
    }

    private static ulong Value(NvmlFieldValue v) => v.Return == NvmlReturn.Success ? v.Value : 0;
}
