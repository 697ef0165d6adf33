using System.Buffers.Text;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// The agent's own process, as every Prometheus client library's process collector reports it (CPU, resident and virtual
/// memory, start time, descriptors), and the managed heap (collections by generation, bytes allocated, heap in use and
/// committed). Read from this process's <c>/proc/self</c>, never the <c>--procfs-root</c> of the host being described:
/// it is the daemon's footprint, what an operator compares with dcgm-exporter's or node-exporter's.
/// </summary>
internal sealed class ProcessCollector : IMetricsCollector
{
    /// <summary>The kernel's USER_HZ, the unit of the times in /proc/PID/stat: 100 on every architecture the agent ships for.</summary>
    private const double TicksPerSecond = 100;

    private const int StatLimit = 4096;

    private static readonly LabelSet[] Generations =
        [.. Enumerable.Range(0, 3).Select(g => LabelSet.Create([MetricNames.Labels.Generation], [g.ToString(System.Globalization.CultureInfo.InvariantCulture)]))];

    private readonly string _proc;
    private double? _startTime;

    /// <param name="proc">Where procfs is mounted: this process's own, not the host tree of <c>--procfs-root</c>.</param>
    public ProcessCollector(string proc = "/proc") => _proc = proc;

    public string Name => "process";

    public void Collect(ScrapeContext context, ExpositionWriter writer)
    {
        Stat stat = ParseStat(Read("self/stat"));
        writer.Sample(MetricNames.Process.CpuSeconds, (stat.UserTicks + stat.SystemTicks) / TicksPerSecond);
        writer.Sample(MetricNames.Process.ResidentMemory, (double)stat.ResidentPages * Environment.SystemPageSize);
        writer.Sample(MetricNames.Process.VirtualMemory, stat.VirtualBytes);
        _startTime ??= BootTime(Read("stat")) + (stat.StartTicks / TicksPerSecond);
        writer.Sample(MetricNames.Process.StartTime, _startTime.Value);
        writer.Sample(MetricNames.Process.OpenFds, Directory.EnumerateFileSystemEntries(Path.Combine(_proc, "self", "fd")).Count());
        if (MaxOpenFiles(Read("self/limits")) is long max)
        {
            writer.Sample(MetricNames.Process.MaxFds, max);
        }

        for (int generation = 0; generation < Generations.Length; generation++)
        {
            writer.Sample(MetricNames.Process.GcCollections, Generations[generation], GC.CollectionCount(generation));
        }

        writer.Sample(MetricNames.Process.GcAllocated, GC.GetTotalAllocatedBytes(precise: false));
        GCMemoryInfo heap = GC.GetGCMemoryInfo(GCKind.Any);
        writer.Sample(MetricNames.Process.GcHeapSize, heap.HeapSizeBytes);
        writer.Sample(MetricNames.Process.GcCommitted, heap.TotalCommittedBytes);
    }

    /// <summary>The fields of <c>/proc/PID/stat</c> this collector reports.</summary>
    internal readonly record struct Stat(long UserTicks, long SystemTicks, long StartTicks, long VirtualBytes, long ResidentPages);

    /// <summary>
    /// Parses <c>/proc/PID/stat</c>: the fields after the command name, which is in parentheses and may itself hold
    /// spaces and parentheses, so the fields start after the last <c>)</c>.
    /// </summary>
    /// <exception cref="InvalidDataException">The text is not a stat line (the message names the field).</exception>
    internal static Stat ParseStat(ReadOnlySpan<byte> text)
    {
        int close = text.LastIndexOf((byte)')');
        if (close < 0)
        {
            throw new InvalidDataException("/proc/self/stat: no command name in parentheses");
        }

        // Field 3 (state) is the first after the name; utime is 14, stime 15, starttime 22, vsize 23, rss 24.
        ReadOnlySpan<byte> rest = text[(close + 1)..];
        long utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
        for (int field = 3; field <= 24; field++)
        {
            rest = rest.TrimStart((byte)' ');
            int end = rest.IndexOfAny((byte)' ', (byte)'\n');
            ReadOnlySpan<byte> value = end < 0 ? rest : rest[..end];
            if (value.IsEmpty)
            {
                throw new InvalidDataException($"/proc/self/stat: field {field} is missing");
            }

            if (field is 14 or 15 or 22 or 23 or 24)
            {
                if (!Utf8Parser.TryParse(value, out long number, out int consumed) || consumed != value.Length || number < 0)
                {
                    throw new InvalidDataException($"/proc/self/stat: field {field} is not a count");
                }

                switch (field)
                {
                    case 14: utime = number; break;
                    case 15: stime = number; break;
                    case 22: start = number; break;
                    case 23: vsize = number; break;
                    default: rss = number; break;
                }
            }

            rest = end < 0 ? default : rest[end..];
        }

        return new Stat(utime, stime, start, vsize, rss);
    }

    /// <summary>The soft limit of "Max open files" in <c>/proc/PID/limits</c>; null when unlimited or absent.</summary>
    internal static long? MaxOpenFiles(ReadOnlySpan<byte> limits)
    {
        foreach (Range line in limits.Split((byte)'\n'))
        {
            ReadOnlySpan<byte> text = limits[line];
            if (!text.StartsWith("Max open files"u8))
            {
                continue;
            }

            ReadOnlySpan<byte> soft = text["Max open files".Length..].TrimStart((byte)' ');
            int end = soft.IndexOf((byte)' ');
            return Utf8Parser.TryParse(end < 0 ? soft : soft[..end], out long value, out int consumed) && consumed > 0 ? value : null;
        }

        return null;
    }

    /// <summary>The <c>btime</c> line of <c>/proc/stat</c>: when the machine booted, in seconds since the epoch.</summary>
    /// <exception cref="InvalidDataException">No btime line.</exception>
    internal static long BootTime(ReadOnlySpan<byte> stat)
    {
        foreach (Range line in stat.Split((byte)'\n'))
        {
            ReadOnlySpan<byte> text = stat[line];
            if (text.StartsWith("btime "u8) && Utf8Parser.TryParse(text["btime ".Length..].Trim((byte)' '), out long seconds, out _))
            {
                return seconds;
            }
        }

        throw new InvalidDataException("/proc/stat: no btime line");
    }

    private byte[] Read(string name)
    {
        string path = Path.Combine(_proc, name);
        // /proc/stat grows with the CPU count (about 150 bytes a CPU): 224 CPUs are ~35 KiB.
        return BoundedFile.ReadBytes(path, name == "stat" ? 1024 * 1024 : StatLimit) ?? throw new InvalidDataException($"{path}: does not exist");
    }
}
