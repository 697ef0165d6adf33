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
    public static void Run(SysfsRoot root, DiscoveryWarnings warnings, int count, int threads, Action<int, SysfsRoot, DiscoveryWarnings> read)
    {
        threads = Math.Min(threads, count);
        if (threads <= 1)
        {
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
        int next = -1;
        void Work(int worker)
        {
            SysfsRoot fork = forks[worker];
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var partWarnings = new DiscoveryWarnings();
                int start = fork.LoggedCount;
                try
                {
                    read(i, fork, partWarnings);
                }
                catch
                {
                    // Stop the other workers from taking more parts; the exception is rethrown below.
                    Volatile.Write(ref next, count);
                    throw;
                }

                parts[i] = new Part(worker, start, fork.LoggedCount, partWarnings);
            }
        }

        var workers = new Task[threads - 1];
        for (int w = 1; w < threads; w++)
        {
            int worker = w;
            workers[w - 1] = Task.Run(() => Work(worker));
        }

        // This thread works too, so the parts are all read even when no pool thread is free; the workers are
        // waited for before returning either way, because they read through descriptors the caller will close.
        ExceptionDispatchInfo? failure = null;
        try
        {
            Work(0);
        }
        catch (Exception ex)
        {
            failure = ExceptionDispatchInfo.Capture(ex);
        }

        foreach (Task t in workers)
        {
            try
            {
                t.GetAwaiter().GetResult();
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

    private readonly record struct Part(int Worker, int Start, int End, DiscoveryWarnings Warnings);
}
