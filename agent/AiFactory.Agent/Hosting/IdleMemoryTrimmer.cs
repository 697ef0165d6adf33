using System.Runtime.CompilerServices;
using AiFactory.Agent.Configuration;
using AiFactory.Host.Hardware.Files;
using AiFactory.Host.Hardware.Procfs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting;

/// <summary>
/// Gives memory back to the OS when the daemon has nothing to do, the way Go's runtime scavenger does for exporters
/// written in Go. Workstation GC keeps the regions a burst of work dirtied (a run of metrics scrapes, inventory calls)
/// committed until later collections happen to shrink them, and the kernel keeps the executable's pages that the work
/// faulted in mapped, in 64 KiB fault-around windows: a daemon that is idle between Prometheus scrapes would otherwise
/// hold the resident set of its busiest minute for good.
/// <para>
/// Once start-up has settled (READY=1 sent, the first discovery done), and afterwards each time a period of
/// <see cref="AgentOptions.IdleTrim"/> passed quietly (see <see cref="IdleTrimPolicy"/>) after work that allocated:
/// one compacting collection that decommits what the heap does not use (<see cref="GCCollectionMode.Aggressive"/>,
/// meant for a process going idle), and, in the native-AOT executable, the executable's read-only pages unmapped
/// (<see cref="StartupPages"/>: what runs next faults back in from the page cache, minor faults, no I/O). The JIT build
/// (tests, <c>dotnet run</c>) keeps its pages. A trim blocks the process for the collection (milliseconds for this
/// heap) and only ever follows a quiet period.
/// </para>
/// </summary>
internal sealed partial class IdleMemoryTrimmer(AgentOptions options, Inventory.InventoryService inventory, IHostApplicationLifetime lifetime, ILogger<IdleMemoryTrimmer> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RunAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped, before or after the start completed (a listener that failed to bind stops the host at once):
            // a normal end, not the "BackgroundService failed" crit line the host logs for a canceled task.
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            await started.Task.ConfigureAwait(false);
        }

        // A failed first discovery is the inventory's to report; start-up has settled either way.
        await inventory.FirstDiscovery.WaitAsync(stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        stoppingToken.ThrowIfCancellationRequested();
        GiveBack(startUp: true);

        if (options.IdleTrim <= TimeSpan.Zero)
        {
            return;
        }

        var policy = new IdleTrimPolicy(GC.GetTotalAllocatedBytes(precise: false));
        using var timer = new PeriodicTimer(options.IdleTrim);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (policy.Sample(GC.GetTotalAllocatedBytes(precise: false)))
            {
                GiveBack(startUp: false);
                policy.Trimmed(GC.GetTotalAllocatedBytes(precise: false));
            }
        }
    }

    private void GiveBack(bool startUp)
    {
        long residentBefore = ResidentBytes();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (!RuntimeFeature.IsDynamicCodeSupported && Environment.ProcessPath is { } executable)
        {
            try
            {
                StartupPages.Result result = StartupPages.Drop(executable, measureAfter: startUp);
                if (startUp)
                {
                    LogStartupPagesDropped(logger, result.ResidentBefore >> 10, result.ResidentAfter >> 10, result.Mappings, executable);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogPagesKept(logger, executable, ex.Message);
            }
        }

        if (!startUp)
        {
            GCMemoryInfo heap = GC.GetGCMemoryInfo(GCKind.Any);
            LogTrimmed(logger, options.IdleTrim.TotalSeconds, residentBefore >> 10, ResidentBytes() >> 10, heap.HeapSizeBytes >> 10, heap.TotalCommittedBytes >> 10);
        }
    }

    /// <summary>This process's resident set (VmRSS), or -1 when <c>/proc/self/statm</c> cannot be read.</summary>
    internal static long ResidentBytes()
    {
        // "size resident shared text lib data dt", in pages; one bounded, non-blocking read.
        byte[]? statm;
        try
        {
            statm = BoundedFile.ReadBytes("/proc/self/statm", 256);
        }
        catch (IOException)
        {
            return -1;
        }

        if (statm is null)
        {
            return -1;
        }

        ReadOnlySpan<byte> rest = statm;
        int space = rest.IndexOf((byte)' ');
        if (space < 0)
        {
            return -1;
        }

        rest = rest[(space + 1)..];
        int end = rest.IndexOfAny((byte)' ', (byte)'\n');
        return System.Buffers.Text.Utf8Parser.TryParse(end < 0 ? rest : rest[..end], out long pages, out int consumed) && consumed > 0
            ? pages * Environment.SystemPageSize
            : -1;
    }

    [LoggerMessage(EventId = EventIds.StartupPagesDropped, Level = LogLevel.Debug, Message = "Start-up pages unmapped: {BeforeKiB} KiB of {Executable} were resident in {Mappings} read-only mappings, {AfterKiB} KiB are now")]
    private static partial void LogStartupPagesDropped(ILogger logger, long beforeKiB, long afterKiB, int mappings, string executable);

    [LoggerMessage(EventId = EventIds.StartupPagesKept, Level = LogLevel.Warning, Message = "Pages of {Executable} kept mapped: {Reason}")]
    private static partial void LogPagesKept(ILogger logger, string executable, string reason);

    [LoggerMessage(EventId = EventIds.IdleMemoryTrimmed, Level = LogLevel.Debug, Message = "Idle for {QuietSeconds} s after work: memory given back, {ResidentBeforeKiB} KiB resident before, {ResidentAfterKiB} KiB now; GC heap {HeapKiB} KiB in use of {CommittedKiB} KiB committed")]
    private static partial void LogTrimmed(ILogger logger, double quietSeconds, long residentBeforeKiB, long residentAfterKiB, long heapKiB, long committedKiB);
}

/// <summary>
/// When <see cref="IdleMemoryTrimmer"/> trims: sampled once per period with the process's total of allocated bytes, it
/// says yes when the period just gone was quiet (at most <see cref="QuietBytes"/> allocated: timers, a health check)
/// and the work since the last trim allocated at least <see cref="WorthBytes"/> (less dirties too little of the heap,
/// and runs too little code, to be worth a full collection). So a busy daemon is never interrupted, and an idle one trims once, not every period.
/// </summary>
internal sealed class IdleTrimPolicy(long allocatedAtStart)
{
    /// <summary>What a period may allocate and still count as quiet.</summary>
    public const long QuietBytes = 64 * 1024;

    /// <summary>
    /// What the work since the last trim must have allocated for another one to be worth it: about one metrics scrape
    /// of an 8-GPU server with MIG (270 KiB), so a daemon scraped every 15 s or more gives its memory back between
    /// scrapes; a trim costs a few milliseconds of CPU, and the next scrape faults its code back in (minor faults).
    /// </summary>
    public const long WorthBytes = 256 * 1024;

    private long _lastSample = allocatedAtStart;
    private long _lastTrim = allocatedAtStart;

    /// <summary>Takes this period's sample; true when it is time to trim.</summary>
    public bool Sample(long allocated)
    {
        long inPeriod = allocated - _lastSample;
        _lastSample = allocated;
        return inPeriod <= QuietBytes && allocated - _lastTrim >= WorthBytes;
    }

    /// <summary>The trim was done; <paramref name="allocated"/> is the total right after it.</summary>
    public void Trimmed(long allocated) => _lastTrim = _lastSample = allocated;
}
