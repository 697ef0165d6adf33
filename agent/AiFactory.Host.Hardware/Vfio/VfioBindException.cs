using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Vfio;

/// <summary>A bind or restore that did not end in the asked state (read back after the writes).</summary>
public sealed class VfioBindException(PciAddress address, string message) : IOException($"{address}: {message}")
{
    /// <summary>The device.</summary>
    public PciAddress Address { get; } = address;
}
