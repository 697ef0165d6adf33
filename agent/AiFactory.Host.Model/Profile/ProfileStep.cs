using System.Globalization;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// One change the profile planner asks for, with the value it replaces (so its inverse is known before it runs).
/// The step kinds are the records below; the applier runs them in plan order.
/// </summary>
public abstract record ProfileStep
{
    /// <summary>The profile field the step comes from (<c>vfio.devices[0]</c>, <c>hugepages[1]</c>).</summary>
    public required string Field { get; init; }

    /// <summary>A short kind name for logs, events and timings: bind, vfs, hugepages, cpus, service, module, check.</summary>
    public abstract string Kind { get; }

    /// <summary>One line: what changes, from what to what.</summary>
    public abstract string Describe();
}

/// <summary>Load a kernel module (vfio-pci) that is not loaded. Not undone on rollback.</summary>
public sealed record LoadModuleStep(string Module) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "module";

    /// <inheritdoc />
    public override string Describe() => $"modprobe {Module}";
}

/// <summary>Bind a device to vfio-pci: driver_override, unbind, drivers_probe, read back the driver link.</summary>
/// <param name="Address">The device.</param>
/// <param name="FromDriver">The driver bound now (null when none), restored on rollback.</param>
/// <param name="FromOverride">The driver_override now (null when none), restored on rollback.</param>
/// <param name="CompanionOf">The device asked for, when this one goes along as an IOMMU-group companion.</param>
public sealed record BindVfioStep(PciAddress Address, string? FromDriver, string? FromOverride, PciAddress? CompanionOf) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "bind";

    /// <inheritdoc />
    public override string Describe() =>
        $"bind {Address} to vfio-pci (now {FromDriver ?? "no driver"})" + (CompanionOf is { } c ? $", IOMMU-group companion of {c}" : string.Empty);
}

/// <summary>
/// Persist a device's driver override for the next boot (a file in <c>/etc/aifactory/vfio-overrides.d</c> that the
/// packaged udev rule applies before any driver probes), or remove it when <paramref name="To"/> is null.
/// </summary>
public sealed record PersistVfioOverrideStep(PciAddress Address, string? From, string? To) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "persist";

    /// <inheritdoc />
    public override string Describe() => To is null
        ? $"remove the boot-time override of {Address} (was {From})"
        : $"persist {Address} -> {To} for boot" + (From is null ? string.Empty : $" (was {From})");
}

/// <summary>Check with the VFIO group-status ioctl that an IOMMU group is viable (every member on vfio-pci or none).</summary>
public sealed record CheckVfioGroupStep(int Group) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "check";

    /// <inheritdoc />
    public override string Describe() => $"check /dev/vfio/{Group.ToString(CultureInfo.InvariantCulture)} is viable";
}

/// <summary>Set <c>sriov_drivers_autoprobe</c> of a PF.</summary>
public sealed record SetSriovAutoprobeStep(PciAddress PhysicalFunction, bool From, bool To) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "vfs";

    /// <inheritdoc />
    public override string Describe() => $"{PhysicalFunction} sriov_drivers_autoprobe {(From ? 1 : 0)} -> {(To ? 1 : 0)}";
}

/// <summary>Set <c>sriov_numvfs</c> of a PF (through 0 when both are non-zero), waiting for every <c>virtfn*</c> link.</summary>
public sealed record SetNumVfsStep(PciAddress PhysicalFunction, int From, int To) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "vfs";

    /// <inheritdoc />
    public override string Describe() => $"{PhysicalFunction} sriov_numvfs {From} -> {To}";
}

/// <summary>Bind every VF of a PF to vfio-pci (after <see cref="SetNumVfsStep"/>).</summary>
public sealed record BindVfsVfioStep(PciAddress PhysicalFunction, int Count) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "bind";

    /// <inheritdoc />
    public override string Describe() => $"bind the {Count} VFs of {PhysicalFunction} to vfio-pci";
}

/// <summary>Set a node's <c>nr_hugepages</c> of one size; read back, compact and retry when short.</summary>
public sealed record SetHugepagesStep(int Node, long PageSizeKiB, long From, long To) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "hugepages";

    /// <inheritdoc />
    public override string Describe() => $"node{Node} hugepages-{PageSizeKiB}kB nr_hugepages {From} -> {To}";
}

/// <summary>Set a unit's <c>AllowedCPUs=</c> at runtime (<c>systemctl set-property --runtime</c>).</summary>
/// <param name="Unit">system.slice, user.slice or init.scope.</param>
/// <param name="From">The value now (empty: all CPUs).</param>
/// <param name="To">The value to set.</param>
public sealed record SetAllowedCpusStep(string Unit, string From, string To) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "cpus";

    /// <inheritdoc />
    public override string Describe() => $"{Unit} AllowedCPUs \"{From}\" -> \"{To}\"";
}

/// <summary>Stop a service that holds devices the plan changes (started again at the end, and on rollback).</summary>
public sealed record StopServiceStep(string Unit) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "service";

    /// <inheritdoc />
    public override string Describe() => $"stop {Unit}";
}

/// <summary>Start a service stopped earlier in the plan (<c>--no-block</c>).</summary>
public sealed record StartServiceStep(string Unit) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "service";

    /// <inheritdoc />
    public override string Describe() => $"start {Unit}";
}

/// <summary>
/// Set a GPU's MIG mode through NVML: refused while a process holds the GPU; when the driver asks for a reset, only
/// that GPU is reset; read back.
/// </summary>
public sealed record SetMigModeStep(PciAddress Gpu, int Index, bool From, bool To) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "mig";

    /// <inheritdoc />
    public override string Describe() => $"GPU {Index} ({Gpu}) MIG mode {(From ? "enabled" : "disabled")} -> {(To ? "enabled" : "disabled")}";
}

/// <summary>Destroy one GPU instance (its compute instances first), read back.</summary>
public sealed record DestroyMigInstanceStep(PciAddress Gpu, int Index, string Profile, MigPlacement Placement) : ProfileStep
{
    /// <summary>
    /// The compute instances inside it now (profile ids and placements): journaled, so a rollback recreates exactly
    /// them. Null only where the planner did not read them (then a rollback recreates one full-size compute instance).
    /// </summary>
    public MigComputeLayout? Compute { get; init; }

    /// <inheritdoc />
    public override string Kind => "mig";

    /// <inheritdoc />
    public override string Describe() => $"GPU {Index} ({Gpu}) destroy MIG instance {Profile}@{Placement}";
}

/// <summary>Create one GPU instance at an explicit placement and its full-size compute instance, read back.</summary>
public sealed record CreateMigInstanceStep(PciAddress Gpu, int Index, string Profile, MigPlacement Placement) : ProfileStep
{
    /// <inheritdoc />
    public override string Kind => "mig";

    /// <inheritdoc />
    public override string Describe() => $"GPU {Index} ({Gpu}) create MIG instance {Profile}@{Placement}";
}
