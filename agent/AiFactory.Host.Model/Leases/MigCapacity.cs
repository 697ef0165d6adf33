using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Leases;

/// <summary>
/// Where a MIG profile can still be created on one GPU, as NVML reports it
/// (<c>nvmlDeviceGetGpuInstancePossiblePlacements</c>); the planner never hard-codes MIG geometry.
/// </summary>
/// <param name="Gpu">The GPU in MIG mode.</param>
/// <param name="Profile">The profile name, e.g. <c>1g.10gb</c>.</param>
/// <param name="FreePlacements">Placements (start, size) still free.</param>
public sealed record MigCapacity(PciAddress Gpu, string Profile, IReadOnlyList<(int Start, int Size)> FreePlacements);
