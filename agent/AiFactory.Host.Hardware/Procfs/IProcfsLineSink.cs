namespace AiFactory.Host.Hardware.Procfs;

/// <summary>Takes the lines of a procfs file one by one, as <see cref="ProcfsTextFile.ScanLines"/> reads them.</summary>
internal interface IProcfsLineSink
{
    /// <summary>Forgets every line seen: called before a file is read, and when it turns out unreadable or too large.</summary>
    void Reset();

    /// <summary>One line, without its '\n'; valid only during the call.</summary>
    void Line(ReadOnlySpan<byte> line);
}
