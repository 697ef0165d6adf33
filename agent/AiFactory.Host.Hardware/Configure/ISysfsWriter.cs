namespace AiFactory.Host.Hardware.Configure;

/// <summary>Writes kernel attributes under one root (sysfs or procfs). Every change to the machine goes through one.</summary>
public interface ISysfsWriter
{
    /// <summary>The root the paths are relative to.</summary>
    string Root { get; }

    /// <summary>The number of writes made so far (tests and benchmarks assert a no-op apply writes nothing).</summary>
    int WriteCount { get; }

    /// <summary>Writes <paramref name="value"/> to <paramref name="relativePath"/> in one write; throws <see cref="SysfsWriteException"/>.</summary>
    void Write(string relativePath, string value);
}
