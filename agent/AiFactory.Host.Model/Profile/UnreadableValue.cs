using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// A current value the hardware layer could not read (a file that exists but fails to read, holds no number, or is
/// missing where the kernel always has it): the planner refuses the entries that depend on it, naming the file, and
/// never takes it for 0 (a rollback would then write 0 over a value that was never 0). Exactly one of
/// <see cref="Device"/>, <see cref="Node"/> or <see cref="Unit"/> says what it belongs to.
/// </summary>
/// <param name="File">The file (relative to the sysfs root) or the command that could not be read.</param>
/// <param name="Why">Why: "missing", "not a number: \"x\"", "errno 21 (Is a directory)".</param>
public sealed record UnreadableValue(string File, string Why)
{
    /// <summary>The PCI function whose state (driver, override, class, IOMMU group, SR-IOV) it is part of.</summary>
    public PciAddress? Device { get; init; }

    /// <summary>The NUMA node: its meminfo when <see cref="PageSizeKiB"/> is null, else that pool's <c>nr_hugepages</c>.</summary>
    public int? Node { get; init; }

    /// <summary>With <see cref="Node"/>: the hugepage pool's page size.</summary>
    public long? PageSizeKiB { get; init; }

    /// <summary>The systemd unit whose <c>AllowedCPUs=</c> it is.</summary>
    public string? Unit { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{File} cannot be read ({Why})";
}
