using AiFactory.Agent.Metrics;
using AiFactory.Host.Hardware.Nvml;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// The agent's <see cref="INvml"/>: every call goes to the NVML session, and every error it returns is counted once,
/// here, in <c>aifactory_nvml_errors_total{function,code}</c>, whoever made the call (the scrape, GPU listing, the
/// health watcher, MIG apply). NVML_ERROR_NOT_SUPPORTED is an answer, not an error, and is not counted; nor are the
/// per-field codes of nvmlDeviceGetFieldValues that say NOT_SUPPORTED. Callers catch <see cref="NvmlException"/> as
/// before and never record it themselves.
/// </summary>
internal sealed partial class MeteredNvml : INvml, IDisposable
{
    private readonly INvml _inner;
    private readonly AgentMetrics _metrics;

    public MeteredNvml(INvml inner, AgentMetrics metrics)
    {
        _inner = inner;
        _metrics = metrics;
    }

    public string DriverVersion => Metered(static nvml => nvml.DriverVersion);

    public int CudaDriverVersion => Metered(static nvml => nvml.CudaDriverVersion);

    public uint DeviceCount => Metered(static nvml => nvml.DeviceCount);

    public NvmlDevice GetDevice(uint index) => Metered(index, static (nvml, a) => nvml.GetDevice(a));

    public string GetName(NvmlDevice device) => Metered(device, static (nvml, a) => nvml.GetName(a));

    public string GetUuid(NvmlDevice device) => Metered(device, static (nvml, a) => nvml.GetUuid(a));

    public string GetSerial(NvmlDevice device) => Metered(device, static (nvml, a) => nvml.GetSerial(a));

    public NvmlPciInfo GetPciInfo(NvmlDevice device) => Metered(device, static (nvml, a) => nvml.GetPciInfo(a));

    public NvmlMemory GetMemory(NvmlDevice device) => Metered(device, static (nvml, a) => nvml.GetMemory(a));

    public bool GetPersistenceMode(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetPersistenceMode(a));

    public int GetVirtualizationMode(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetVirtualizationMode(a));

    public int? GetNumaNode(NvmlDevice device) => Metered(device, static (nvml, a) => nvml.GetNumaNode(a));

    public IReadOnlyList<int> GetCpuAffinity(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetCpuAffinity(a));

    public IReadOnlyList<(bool Active, string? RemoteBusId)> GetNvLinks(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetNvLinks(a));

    public NvmlFabricInfo? GetFabricInfo(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetFabricInfo(a));

    public ulong GetTotalEccErrors(NvmlDevice device, bool uncorrected, bool aggregate)
        => Metered((device, uncorrected, aggregate), static (nvml, a) => nvml.GetTotalEccErrors(a.device, a.uncorrected, a.aggregate));

    public NvmlRemappedRows? GetRemappedRows(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetRemappedRows(a));

    public bool? GetRetiredPagesPending(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetRetiredPagesPending(a));

    public IReadOnlyList<NvmlProcess> GetComputeProcesses(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetComputeProcesses(a));

    public NvmlUtilization GetUtilization(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetUtilization(a));

    public uint GetEncoderUtilization(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetEncoderUtilization(a));

    public uint GetDecoderUtilization(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetDecoderUtilization(a));

    public uint GetGpuTemperature(NvmlDevice device) => Metered(device, static (nvml, a) => nvml.GetGpuTemperature(a));

    public uint GetPowerUsage(NvmlDevice device) => Metered(device, static (nvml, a) => nvml.GetPowerUsage(a));

    public uint GetClock(NvmlDevice device, NvmlClockType type)
        => Metered((device, type), static (nvml, a) => nvml.GetClock(a.device, a.type));

    public NvmlEventSetHandle CreateEventSet() => Metered(static nvml => nvml.CreateEventSet());

    public void RegisterEvents(NvmlDevice device, ulong eventTypes, NvmlEventSetHandle set)
        => Metered((device, eventTypes, set), static (nvml, a) => nvml.RegisterEvents(a.device, a.eventTypes, a.set));

    public void GetFieldValues(NvmlDevice device, Span<NvmlFieldValue> values)
    {
        try
        {
            _inner.GetFieldValues(device, values);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }

        // The call succeeded; each field has its own code (a field NVML cannot read fails alone).
        foreach (NvmlFieldValue v in values)
        {
            if (v.Return is not NvmlReturn.Success and not NvmlReturn.NotSupported)
            {
                _metrics.RecordNvmlError("nvmlDeviceGetFieldValues", v.Return.CName());
            }
        }
    }

    public bool WaitForEvent(NvmlEventSetHandle set, uint timeoutMs, out NvmlEvent e)
    {
        try
        {
            return _inner.WaitForEvent(set, timeoutMs, out e);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    /// <summary>Ends the NVML session (nvmlShutdown).</summary>
    public void Dispose() => (_inner as IDisposable)?.Dispose();

    // The call forwarded, its error counted on the way out. Static lambdas and a value-type argument: nothing is
    // allocated per call (the scrape makes hundreds).
    private T Metered<T>(Func<INvml, T> call)
    {
        try
        {
            return call(_inner);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    private T Metered<TArg, T>(TArg arg, Func<INvml, TArg, T> call)
    {
        try
        {
            return call(_inner, arg);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    private void Metered<TArg>(TArg arg, Action<INvml, TArg> call)
    {
        try
        {
            call(_inner, arg);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    /// <summary>Counts the error; always false, so the exception filter lets it pass on untouched.</summary>
    private bool Count(NvmlException ex)
    {
        if (ex.Code != NvmlReturn.NotSupported)
        {
            _metrics.RecordNvmlError(ex.Function, ex.Code.CName());
        }

        return false;
    }
}
