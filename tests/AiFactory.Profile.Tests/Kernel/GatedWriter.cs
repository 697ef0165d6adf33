using AiFactory.Host.Hardware.Configure;

namespace AiFactory.Profile.Tests.Kernel;

/// <summary>
/// A writer that stops the first write to a path ending in <see cref="Suffix"/> until the test opens the gate: an
/// apply held mid-way, its journal on disk, as a slow kernel step holds it. Other writes go straight through.
/// </summary>
internal sealed class GatedWriter(ISysfsWriter inner, string suffix) : ISysfsWriter
{
    private int _stopped;

    public string Suffix => suffix;

    public ManualResetEventSlim Reached { get; } = new();

    public ManualResetEventSlim Gate { get; } = new();

    public string Root => inner.Root;

    public int WriteCount => inner.WriteCount;

    public void Write(string relativePath, string value)
    {
        if (relativePath.EndsWith(suffix, StringComparison.Ordinal) && Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            Reached.Set();
            Gate.Wait(TimeSpan.FromMinutes(2));
        }

        inner.Write(relativePath, value);
    }
}
