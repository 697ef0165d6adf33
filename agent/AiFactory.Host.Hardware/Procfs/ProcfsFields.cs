namespace AiFactory.Host.Hardware.Procfs;

/// <summary>The fields of one line of a procfs table (<c>self/mounts</c>, <c>net/route</c>), split on spaces and tabs, without allocating.</summary>
internal static class ProcfsFields
{
    /// <summary>The next field from <paramref name="position"/> on, as a range of <paramref name="line"/>; false when none is left.</summary>
    public static bool Next(ReadOnlySpan<byte> line, ref int position, out Range field)
    {
        int start = position;
        while (start < line.Length && line[start] is (byte)' ' or (byte)'\t')
        {
            start++;
        }

        int end = start;
        while (end < line.Length && line[end] is not ((byte)' ' or (byte)'\t'))
        {
            end++;
        }

        position = end;
        field = start..end;
        return end > start;
    }

    /// <summary>
    /// The first fields of <paramref name="line"/> into <paramref name="fields"/>, at most its length; how many were
    /// found (a span one longer than a table's width tells a line with extra fields).
    /// </summary>
    public static int Split(ReadOnlySpan<byte> line, Span<Range> fields)
    {
        int position = 0, count = 0;
        while (count < fields.Length && Next(line, ref position, out fields[count]))
        {
            count++;
        }

        return count;
    }

    /// <summary>A hash of a field found (FNV-1a, never 0: 0 stands for "none found").</summary>
    public static ulong Hash(ReadOnlySpan<byte> field)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in field)
        {
            h = (h ^ b) * 1099511628211UL;
        }

        return h == 0 ? 1 : h;
    }
}
