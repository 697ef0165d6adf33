using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using AiFactory.Host.Model.Cpu;

namespace AiFactory.Agent.Leases;

/// <summary>
/// A libvirt cpuset attribute (<c>cpuset</c> of <c>vcpupin</c>, <c>emulatorpin</c>, <c>iothreadpin</c> and
/// <c>&lt;vcpu&gt;</c>), read as libvirt reads it: comma-separated entries, each a CPU id <c>N</c>, a range <c>N-M</c>
/// or an exclusion <c>^N</c> that takes one CPU out of what the entries before it gave (<c>0-7,^3</c> is 0-2,4-7);
/// spaces around entries are allowed. Ids are those <see cref="CpuSet"/> holds (0..<see cref="CpuSet.MaxCpuId"/>).
/// </summary>
internal static class LibvirtCpuset
{
    /// <summary>
    /// The CPUs <paramref name="text"/> selects. False, with <paramref name="error"/> naming the value and the entry
    /// at fault, for anything else: an empty entry, a reversed range, <c>^</c> before a range, an id out of range, a
    /// value that selects no CPU.
    /// </summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out CpuSet? cpus, [NotNullWhen(false)] out string? error)
    {
        cpus = null;
        CpuSet set = CpuSet.Empty;
        foreach (string raw in text.Split(','))
        {
            string entry = raw.Trim();
            if (entry.StartsWith('^'))
            {
                if (!int.TryParse(entry.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int excluded) || excluded > CpuSet.MaxCpuId)
                {
                    error = $"cpuset \"{text}\" is not a libvirt CPU list: \"{entry}\" excludes no single CPU id (^N, N in 0..{CpuSet.MaxCpuId})";
                    return false;
                }

                set = set.Except(CpuSet.Of(excluded));
                continue;
            }

            if (entry.Length == 0 || !char.IsAsciiDigit(entry[0]) || !CpuSet.TryParse(entry, out CpuSet? range, out _))
            {
                error = $"cpuset \"{text}\" is not a libvirt CPU list: \"{entry}\" is not a CPU id, a range N-M or an exclusion ^N (N in 0..{CpuSet.MaxCpuId})";
                return false;
            }

            set = set.Union(range);
        }

        if (set.IsEmpty)
        {
            error = $"cpuset \"{text}\" selects no CPU";
            return false;
        }

        cpus = set;
        error = null;
        return true;
    }

    /// <summary>As <see cref="TryParse"/>; throws <see cref="FormatException"/> with its error.</summary>
    public static CpuSet Parse(string text) =>
        TryParse(text, out CpuSet? cpus, out string? error) ? cpus : throw new FormatException(error);
}
