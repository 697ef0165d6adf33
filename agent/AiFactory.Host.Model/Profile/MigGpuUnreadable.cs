using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// A GPU NVML counts but whose MIG state could not be read (lost, a query failing): the other GPUs are still planned;
/// a <c>mig</c> entry that selects this one (or may, when its address is unknown) is refused naming it and the error.
/// </summary>
/// <param name="Index">The NVML index.</param>
/// <param name="Address">The PCI address; null when NVML gave no handle or bus id for it.</param>
/// <param name="Error">NVML's error, with the call that failed ("nvmlDeviceGetMigMode: GPU is lost").</param>
public sealed record MigGpuUnreadable(int Index, PciAddress? Address, string Error)
{
    /// <summary>"GPU 2 (0000:3a:00.0)", or "GPU 2" without an address, for messages.</summary>
    public string Name => Address is { } a ? $"GPU {Index} ({a})" : $"GPU {Index}";
}
