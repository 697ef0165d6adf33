namespace AiFactory.Host.Hardware.Nvml;

/// <summary>nvmlDevice_t: owned by the driver for the life of the NVML session; never freed.</summary>
public readonly record struct NvmlDevice(nint Handle);

/// <summary>nvmlGpuInstance_t: valid until destroyed.</summary>
public readonly record struct NvmlGpuInstance(nint Handle);

/// <summary>nvmlComputeInstance_t: valid until destroyed.</summary>
public readonly record struct NvmlComputeInstance(nint Handle);
