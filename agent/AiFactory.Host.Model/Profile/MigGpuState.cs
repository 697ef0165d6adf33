using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// One GPU as NVML reports it, for the MIG part of the profile: index, address, mode, the profile table (read from
/// NVML, never hard-coded), the instances that exist, and the processes that hold it.
/// </summary>
/// <param name="Index">The NVML index.</param>
/// <param name="Address">The PCI address.</param>
/// <param name="PciDeviceId">The device id as NVML reports it (0x233010DE), for mig-parted's device-filter.</param>
/// <param name="MigCapable">False when the GPU has no MIG (NVML_ERROR_NOT_SUPPORTED).</param>
/// <param name="ModeCurrent">MIG mode now.</param>
/// <param name="ModePending">MIG mode after the next reset.</param>
/// <param name="Table">The GPU's MIG profiles and placements from NVML.</param>
/// <param name="Instances">GPU instances that exist now.</param>
/// <param name="Processes">Processes using the GPU, as "PID 4242 (python3)".</param>
public sealed record MigGpuState(int Index, PciAddress Address, uint PciDeviceId, bool MigCapable, bool ModeCurrent, bool ModePending, MigProfileTable Table, IReadOnlyList<MigInstance> Instances, IReadOnlyList<string> Processes)
{
    /// <summary>"GPU 0 (0000:18:00.0)", for messages.</summary>
    public string Name => $"GPU {Index} ({Address})";
}
