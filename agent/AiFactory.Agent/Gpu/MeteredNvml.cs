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

    public string DriverVersion
    {
        get
        {
            try
            {
                return _inner.DriverVersion;
            }
            catch (NvmlException ex) when (Count(ex))
            {
                throw;
            }
        }
    }

    public int CudaDriverVersion
    {
        get
        {
            try
            {
                return _inner.CudaDriverVersion;
            }
            catch (NvmlException ex) when (Count(ex))
            {
                throw;
            }
        }
    }

    public uint DeviceCount
    {
        get
        {
            try
            {
                return _inner.DeviceCount;
            }
            catch (NvmlException ex) when (Count(ex))
            {
                throw;
            }
        }
    }

    public NvmlDevice GetDevice(uint index)
    {
        try
        {
            return _inner.GetDevice(index);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public string GetName(NvmlDevice device)
    {
        try
        {
            return _inner.GetName(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public string GetUuid(NvmlDevice device)
    {
        try
        {
            return _inner.GetUuid(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public string GetSerial(NvmlDevice device)
    {
        try
        {
            return _inner.GetSerial(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlPciInfo GetPciInfo(NvmlDevice device)
    {
        try
        {
            return _inner.GetPciInfo(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlMemory GetMemory(NvmlDevice device)
    {
        try
        {
            return _inner.GetMemory(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public bool GetPersistenceMode(NvmlDevice device)
    {
        try
        {
            return _inner.GetPersistenceMode(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public int GetVirtualizationMode(NvmlDevice device)
    {
        try
        {
            return _inner.GetVirtualizationMode(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public int? GetNumaNode(NvmlDevice device)
    {
        try
        {
            return _inner.GetNumaNode(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public IReadOnlyList<int> GetCpuAffinity(NvmlDevice device)
    {
        try
        {
            return _inner.GetCpuAffinity(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public IReadOnlyList<(bool Active, string? RemoteBusId)> GetNvLinks(NvmlDevice device)
    {
        try
        {
            return _inner.GetNvLinks(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlFabricInfo? GetFabricInfo(NvmlDevice device)
    {
        try
        {
            return _inner.GetFabricInfo(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public ulong GetTotalEccErrors(NvmlDevice device, bool uncorrected, bool aggregate)
    {
        try
        {
            return _inner.GetTotalEccErrors(device, uncorrected, aggregate);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlRemappedRows? GetRemappedRows(NvmlDevice device)
    {
        try
        {
            return _inner.GetRemappedRows(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public bool? GetRetiredPagesPending(NvmlDevice device)
    {
        try
        {
            return _inner.GetRetiredPagesPending(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public IReadOnlyList<NvmlProcess> GetComputeProcesses(NvmlDevice device)
    {
        try
        {
            return _inner.GetComputeProcesses(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlUtilization GetUtilization(NvmlDevice device)
    {
        try
        {
            return _inner.GetUtilization(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public uint GetEncoderUtilization(NvmlDevice device)
    {
        try
        {
            return _inner.GetEncoderUtilization(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public uint GetDecoderUtilization(NvmlDevice device)
    {
        try
        {
            return _inner.GetDecoderUtilization(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public uint GetGpuTemperature(NvmlDevice device)
    {
        try
        {
            return _inner.GetGpuTemperature(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public uint GetClock(NvmlDevice device, NvmlClockType type)
    {
        try
        {
            return _inner.GetClock(device, type);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlEventSetHandle CreateEventSet()
    {
        try
        {
            return _inner.CreateEventSet();
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public void RegisterEvents(NvmlDevice device, ulong eventTypes, NvmlEventSetHandle set)
    {
        try
        {
            _inner.RegisterEvents(device, eventTypes, set);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

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
