namespace AiFactory.Host.Hardware.Nvml;

/// <summary>An NVML call that did not return NVML_SUCCESS: the function, the code and the device it was about.</summary>
public sealed class NvmlException : Exception
{
    public NvmlException(string function, NvmlReturn code, string? device = null)
        : base($"{function} failed{(device is null ? string.Empty : " for " + device)}: {code.Describe()}")
    {
        Function = function;
        Code = code;
        Device = device;
    }

    /// <summary>The NVML function, e.g. <c>nvmlDeviceCreateGpuInstanceWithPlacement</c>.</summary>
    public string Function { get; }

    /// <summary>What it returned.</summary>
    public NvmlReturn Code { get; }

    /// <summary>The device's bus id when known.</summary>
    public string? Device { get; }
}
