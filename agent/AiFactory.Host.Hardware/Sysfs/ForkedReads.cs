using System.Runtime.ExceptionServices;
using AiFactory.Host.Hardware.Discovery;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Reads independent parts of the tree (one PCI function each) on several threads and merges them as if one thread
/// had read them in index order: each thread reads through its own fork of the root, each part gets its own warnings,
/// and afterwards the parts' reads are recorded, and their warnings added, part by part. The inventory, the warnings
/// and the rescan's hash are therefore the same whatever the number of threads.
/// </summary>
internal static class ForkedReads
{
    /// <summary>
    /// Calls <paramref name="read"/> for every index below <paramref name="count"/> with the root and the warnings it
    /// must use. With <paramref name="threads"/> ≤ 1 (or one part) that is simply <paramref name="root"/> and
    /// <paramref name="warnings"/>, in order, on this thread; otherwise parts are handed out one at a time to this
    /// thread and up to <paramref name="threads"/> − 1 thread-pool workers, and <paramref name="read"/> must only
    /// write its result to a slot of its own index.
    /// </summary>
    /// <param name="root">The root the parts are read from and their reads recorded in.</param>
    /// <param name="warnings">Where the parts' warnings go, in index order.</param>
    /// <param name="count">How many parts.</param>
    /// <param name="threads">At most how many threads read, this one included.</param>
    /// <param name="read">Reads one part.</param>
    /// <param name="alongside">
    /// Other work (on forks of its own) that the first thread free runs before it takes parts; done before this
    /// returns. With one thread, it runs first.
    /// </param>
    public static void Run(SysfsRoot root, DiscoveryWarnings warnings, int count, int threads, Action<int, SysfsRoot, DiscoveryWarnings> read, Action? alongside = null)
    {
        threads = Math.Min(threads, count + (alongside is null ? 0 : 1));
        if (threads <= 1)
        {
            alongside?.Invoke();
            for (int i = 0; i < count; i++)
            {
                read(i, root, warnings);
            }

            return;
        }

        var forks = new SysfsRoot[threads];
        for (int w = 0; w < threads; w++)
        {
            forks[w] = root.Fork();
        }

        var parts = new Part[count];
        int next = alongside is null ? -1 : -2;

        // Per pool worker: NotStarted until it starts (then Running) or this thread gives up on it (Skipped), so that
        // a worker the pool starts late, after every part was taken, reads nothing and is not waited for.
        var state = new int[threads];
        void Work(int worker)
        {
            if (worker > 0 && Interlocked.CompareExchange(ref state[worker], Running, NotStarted) != NotStarted)
            {
                return;
            }

            SysfsRoot fork = forks[worker];
            int i;
            try
            {
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    if (i < 0)
                    {
                        // Taken like a part, so it runs at once on whichever thread starts first, never left waiting
                        // for a pool thread while this one idles.
                        alongside!();
                        continue;
                    }

                    var partWarnings = new DiscoveryWarnings();
                    int start = fork.LoggedCount;
                    read(i, fork, partWarnings);
                    parts[i] = new Part(worker, start, fork.LoggedCount, partWarnings);
                }
            }
            catch
            {
                // Stop the other threads from taking more parts; the exception is rethrown below.
                Volatile.Write(ref next, count);
                throw;
            }
        }

        var workers = new Task[threads];
        for (int w = 1; w < threads; w++)
        {
            int worker = w;
            workers[w] = Task.Run(() => Work(worker));
        }

        // This thread works too, so the parts are all read even when no pool thread is free. Workers that started are
        // waited for before returning, failed or not, because they read through descriptors the caller will close.
        ExceptionDispatchInfo? failure = null;
        try
        {
            Work(0);
        }
        catch (Exception ex)
        {
            failure = ExceptionDispatchInfo.Capture(ex);
        }

        for (int w = 1; w < threads; w++)
        {
            if (Interlocked.CompareExchange(ref state[w], Skipped, NotStarted) == NotStarted)
            {
                continue;
            }

            try
            {
                workers[w].GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                failure ??= ExceptionDispatchInfo.Capture(ex);
            }
        }

        failure?.Throw();
        foreach (Part p in parts)
        {
            root.Merge(forks[p.Worker], p.Start, p.End);
            warnings.AddFrom(p.Warnings);
        }
    }

    private const int NotStarted = 0;
    private const int Running = 1;
    private const int Skipped = 2;

    private readonly record struct Part(int Worker, int Start, int End, DiscoveryWarnings Warnings);
}
