using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Vfio;

/// <summary>How a device was bound before a change: its driver (null when none) and <c>driver_override</c> (null when none).</summary>
public sealed record DeviceBinding(PciAddress Address, string? Driver, string? DriverOverride);
