using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace AiFactory.Host.Model.Cpu;

/// <summary>
/// An immutable set of logical CPU ids, in the kernel's list format (<c>0-3,8,10-11</c>) — the format of
/// <c>cpulist</c>, <c>isolated</c>, <c>nohz_full</c>, systemd's <c>AllowedCPUs=</c> and libvirt's <c>cpuset</c>.
/// </summary>
public sealed class CpuSet : IEquatable<CpuSet>, IEnumerable<int>
{
    /// <summary>The largest CPU id accepted when parsing (the kernel's NR_CPUS upper bound is 8192).</summary>
    public const int MaxCpuId = 8191;

    private readonly ulong[] _words;

    /// <summary>The empty set.</summary>
    public static readonly CpuSet Empty = new([]);

    private CpuSet(ulong[] words)
    {
        int length = words.Length;
        while (length > 0 && words[length - 1] == 0)
        {
            length--;
        }

        _words = length == words.Length ? words : words[..length];
        Count = 0;
        foreach (ulong w in _words)
        {
            Count += BitOperations.PopCount(w);
        }
    }

    /// <summary>The number of CPUs in the set.</summary>
    public int Count { get; }

    /// <summary>True when the set holds no CPU.</summary>
    public bool IsEmpty => Count == 0;

    /// <summary>Builds a set from ids. Throws for an id below 0 or above <see cref="MaxCpuId"/>.</summary>
    public static CpuSet Of(IEnumerable<int> cpus)
    {
        var words = new List<ulong>();
        foreach (int cpu in cpus)
        {
            if (cpu is < 0 or > MaxCpuId)
            {
                throw new ArgumentOutOfRangeException(nameof(cpus), cpu, $"CPU id {cpu} is outside 0..{MaxCpuId}");
            }

            int word = cpu >> 6;
            while (words.Count <= word)
            {
                words.Add(0);
            }

            words[word] |= 1UL << (cpu & 63);
        }

        return new CpuSet([.. words]);
    }

    /// <summary>Builds a set from ids.</summary>
    public static CpuSet Of(params int[] cpus) => Of((IEnumerable<int>)cpus);

    /// <summary>
    /// Parses the kernel's list format. An empty or whitespace string is the empty set. Throws
    /// <see cref="FormatException"/> quoting the raw value for anything malformed, reversed or out of range.
    /// </summary>
    public static CpuSet Parse(string value)
    {
        if (TryParse(value, out CpuSet? set, out string? error))
        {
            return set;
        }

        throw new FormatException(error);
    }

    /// <summary>Parses the kernel's list format; on failure <paramref name="error"/> says what is wrong with the raw value.</summary>
    public static bool TryParse(string? value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CpuSet? set, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        set = null;
        error = null;
        if (value is null)
        {
            error = "CPU list is missing";
            return false;
        }

        string trimmed = value.Trim();
        if (trimmed.Length == 0)
        {
            set = Empty;
            return true;
        }

        var cpus = new List<int>();
        foreach (string part in trimmed.Split(','))
        {
            string p = part.Trim();
            int dash = p.IndexOf('-', StringComparison.Ordinal);
            string first = dash < 0 ? p : p[..dash];
            string? last = dash < 0 ? null : p[(dash + 1)..];
            if (!TryId(first, out int lo) || (last is not null && !TryId(last, out _)))
            {
                error = $"invalid CPU list \"{Shorten(value)}\": \"{Shorten(p)}\" is not a CPU id or range (0..{MaxCpuId})";
                return false;
            }

            int hi = lo;
            if (last is not null)
            {
                _ = TryId(last, out hi);
            }

            if (hi < lo)
            {
                error = $"invalid CPU list \"{Shorten(value)}\": range \"{p}\" is reversed";
                return false;
            }

            for (int c = lo; c <= hi; c++)
            {
                cpus.Add(c);
            }
        }

        set = Of(cpus);
        return true;
    }

    /// <summary>
    /// Parses the kernel's mask format (<c>cpumap</c>, <c>local_cpus</c>): comma-separated 32-bit hex words,
    /// most significant first, e.g. <c>00000000,0000ffff</c>.
    /// </summary>
    public static bool TryParseMask(string? value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CpuSet? set)
    {
        set = null;
        if (value is null)
        {
            return false;
        }

        string[] words = value.Trim().Split(',');
        if (words.Length == 0 || words.Length * 32 > MaxCpuId + 1)
        {
            return false;
        }

        var cpus = new List<int>();
        for (int i = 0; i < words.Length; i++)
        {
            string w = words[words.Length - 1 - i];
            if (w.Length == 0 || w.Length > 8 || !uint.TryParse(w, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint bits))
            {
                return false;
            }

            for (int b = 0; b < 32; b++)
            {
                if ((bits & (1u << b)) != 0)
                {
                    cpus.Add((i * 32) + b);
                }
            }
        }

        set = Of(cpus);
        return true;
    }

    private static bool TryId(string s, out int id) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id <= MaxCpuId;

    private static string Shorten(string s) => s.Length <= 64 ? s : s[..64] + "…";

    /// <summary>True when <paramref name="cpu"/> is in the set.</summary>
    public bool Contains(int cpu) =>
        cpu >= 0 && (cpu >> 6) < _words.Length && (_words[cpu >> 6] & (1UL << (cpu & 63))) != 0;

    /// <summary>The CPUs in either set.</summary>
    public CpuSet Union(CpuSet other) => Combine(other, static (a, b) => a | b);

    /// <summary>The CPUs in both sets.</summary>
    public CpuSet Intersect(CpuSet other) => Combine(other, static (a, b) => a & b);

    /// <summary>The CPUs in this set and not in <paramref name="other"/>.</summary>
    public CpuSet Except(CpuSet other) => Combine(other, static (a, b) => a & ~b);

    /// <summary>True when every CPU of this set is in <paramref name="other"/>.</summary>
    public bool IsSubsetOf(CpuSet other) => Except(other).IsEmpty;

    /// <summary>True when the sets share a CPU.</summary>
    public bool Overlaps(CpuSet other) => !Intersect(other).IsEmpty;

    private CpuSet Combine(CpuSet other, Func<ulong, ulong, ulong> op)
    {
        int n = Math.Max(_words.Length, other._words.Length);
        var words = new ulong[n];
        for (int i = 0; i < n; i++)
        {
            ulong a = i < _words.Length ? _words[i] : 0;
            ulong b = i < other._words.Length ? other._words[i] : 0;
            words[i] = op(a, b);
        }

        return new CpuSet(words);
    }

    /// <summary>The kernel's list format, ranges collapsed: <c>0-3,8,10-11</c>; empty string for the empty set.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        int start = -1;
        int prev = -2;
        foreach (int cpu in this)
        {
            if (cpu != prev + 1)
            {
                Flush(sb, start, prev);
                start = cpu;
            }

            prev = cpu;
        }

        Flush(sb, start, prev);
        return sb.ToString();

        static void Flush(StringBuilder sb, int start, int end)
        {
            if (start < 0)
            {
                return;
            }

            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(start.ToString(CultureInfo.InvariantCulture));
            if (end > start)
            {
                sb.Append('-').Append(end.ToString(CultureInfo.InvariantCulture));
            }
        }
    }

    /// <inheritdoc />
    public IEnumerator<int> GetEnumerator()
    {
        for (int w = 0; w < _words.Length; w++)
        {
            ulong bits = _words[w];
            while (bits != 0)
            {
                int b = BitOperations.TrailingZeroCount(bits);
                yield return (w << 6) + b;
                bits &= bits - 1;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(CpuSet? other) => other is not null && _words.AsSpan().SequenceEqual(other._words);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as CpuSet);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (ulong w in _words)
        {
            hash.Add(w);
        }

        return hash.ToHashCode();
    }
}
