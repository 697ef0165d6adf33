namespace AiFactory.Host.Model.Profile;

/// <summary>
/// The <c>mig</c> section: per GPU a MIG layout, or the name of a layout in an imported mig-parted config file.
/// </summary>
/// <param name="Gpus">One entry per GPU selection, in profile order.</param>
/// <param name="PartedConfigs">The imported mig-parted file's <c>mig-configs</c>, by name; empty without <c>partedConfig</c>.</param>
/// <param name="PartedSource">The imported file's path, for messages; null without one.</param>
public sealed record MigSection(IReadOnlyList<MigGpuProfile> Gpus, IReadOnlyDictionary<string, IReadOnlyList<MigPartedLayout>> PartedConfigs, string? PartedSource);

/// <summary>One <c>mig.gpus</c> entry.</summary>
/// <param name="Gpu">Which GPUs: an NVML index, or a PCI address or selector (nvidia-gpus, 10de:2330).</param>
/// <param name="Enabled">MIG mode wanted; false turns MIG off (its instances destroyed first).</param>
/// <param name="Layout">The GPU instances wanted; null when <paramref name="Config"/> names a mig-parted layout.</param>
/// <param name="Config">The name of a layout in the imported mig-parted file; null with <paramref name="Layout"/>.</param>
public sealed record MigGpuProfile(MigGpuSelector Gpu, bool Enabled, IReadOnlyList<MigLayoutItem>? Layout, string? Config);

/// <summary>Which GPUs a <c>mig.gpus</c> entry means: an NVML index or a device selector.</summary>
public sealed record MigGpuSelector(int? Index, DeviceSelector? Selector)
{
    /// <inheritdoc />
    public override string ToString() => Index?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Selector?.ToString() ?? "?";
}

/// <summary>One GPU instance wanted: a profile name (<c>3g.40gb</c>) and, optionally, its explicit placement start.</summary>
public sealed record MigLayoutItem(string Profile, uint? Start)
{
    /// <inheritdoc />
    public override string ToString() => Start is uint s ? $"{Profile}@{s}" : Profile;
}

/// <summary>One entry of a mig-parted config: which GPUs (indexes, device ids), MIG on or off, the profiles (repeats).</summary>
/// <param name="Devices">GPU indexes; null for <c>devices: all</c>.</param>
/// <param name="DeviceFilter">PCI device ids as NVML reports them (0x233010DE); empty for any.</param>
/// <param name="MigEnabled">mig-enabled.</param>
/// <param name="Profiles">mig-devices expanded to a multiset, in name order.</param>
public sealed record MigPartedLayout(IReadOnlyList<int>? Devices, IReadOnlyList<uint> DeviceFilter, bool MigEnabled, IReadOnlyList<string> Profiles);
