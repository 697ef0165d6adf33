using System.Globalization;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// MIG profile names as nvidia-smi and the MIG user guide spell them ("1g.10gb", "1g.10gb+me"). Operators, node
/// profiles and lease requests name profiles this way, so a profile must have its name even where the driver's profile
/// info leaves it empty: an H100 80GB on driver 580.159.04 answered with an empty name for every profile.
/// </summary>
internal static class MigProfileNames
{
    /// <summary>NVML's name where it gave one (without a leading "MIG "), else the name built from the profile's shape.</summary>
    public static string Resolve(string nvmlName, uint profileIndex, uint sliceCount, ulong memorySizeMiB, ulong deviceMemoryBytes)
    {
        string name = nvmlName.Trim();
        if (name.StartsWith("MIG ", StringComparison.Ordinal))
        {
            name = name[4..].TrimStart();
        }

        return name.Length > 0 ? name : FromShape(profileIndex, sliceCount, memorySizeMiB, deviceMemoryBytes);
    }

    /// <summary>
    /// "{slices}g.{memory}gb" plus the suffix the profile's index stands for. The memory is the profile's share of
    /// the GPU's memory, rounded up to whole eighths (the GPU's memory slices), times the GPU's memory in GiB rounded
    /// up: 9 984 MiB of an 81 559 MiB H100 is one eighth of 80, so "10gb"; 20 096 MiB is two eighths, "20gb".
    /// </summary>
    public static string FromShape(uint profileIndex, uint sliceCount, ulong memorySizeMiB, ulong deviceMemoryBytes)
    {
        ulong gigabytes;
        if (deviceMemoryBytes == 0)
        {
            gigabytes = (memorySizeMiB + 1023) / 1024;
        }
        else
        {
            const double Gib = 1024.0 * 1024 * 1024;
            double eighths = Math.Ceiling(memorySizeMiB * 1024.0 * 1024 * 8 / deviceMemoryBytes);
            double deviceGib = Math.Ceiling(deviceMemoryBytes / Gib);
            gigabytes = (ulong)Math.Round(eighths * deviceGib / 8, MidpointRounding.AwayFromZero);
        }

        return string.Create(CultureInfo.InvariantCulture, $"{sliceCount}g.{gigabytes}gb{Suffix(profileIndex)}");
    }

    /// <summary>The suffix of an NVML_GPU_INSTANCE_PROFILE_* index (nvml.h).</summary>
    private static string Suffix(uint profileIndex) => profileIndex switch
    {
        0x7 or 0x8 => "+me",            // 1_SLICE_REV1, 2_SLICE_REV1: with the media engines
        0xA or 0xB or 0xC => "+gfx",    // *_SLICE_GFX
        0x11 => "+gfx",                 // 3_SLICE_GFX (gfx and media capable)
        0xD or 0xE => "-me",            // *_SLICE_NO_ME
        0xF or 0x10 => "+me.all",       // *_SLICE_ALL_ME
        _ => "",
    };
}
