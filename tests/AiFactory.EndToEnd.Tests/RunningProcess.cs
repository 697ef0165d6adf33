using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AiFactory.EndToEnd.Tests;

/// <summary>A started binary with its stdout and stderr collected line by line.</summary>
internal sealed partial class RunningProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private RunningProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) { _stdout.Enqueue(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { _stderr.Enqueue(e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Stdout => [.. _stdout];

    public IReadOnlyList<string> Stderr => [.. _stderr];

    /// <summary>Starts <paramref name="binary"/> with <paramref name="args"/>, optionally wrapped (setpriv ...), with extra environment.</summary>
    public static RunningProcess Start((string File, string[] Prefix) binary, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, string[]? wrapper = null)
    {
        var all = new List<string>();
        string file = binary.File;
        if (wrapper is { Length: > 0 })
        {
            file = wrapper[0];
            all.AddRange(wrapper[1..]);
            all.Add(binary.File);
        }

        all.AddRange(binary.Prefix);
        all.AddRange(args);
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in all)
        {
            info.ArgumentList.Add(a);
        }

        // The test runner's own systemd and AIFACTORY_* settings must not leak into the process under test.
        foreach (string key in info.Environment.Keys.Where(k => k.StartsWith("AIFACTORY_", StringComparison.Ordinal) || k is "NOTIFY_SOCKET" or "WATCHDOG_USEC" or "WATCHDOG_PID" or "JOURNAL_STREAM").ToList())
        {
            info.Environment.Remove(key);
        }

        foreach ((string key, string? value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }

        return new RunningProcess(Process.Start(info) ?? throw new InvalidOperationException("cannot start " + file));
    }

    /// <summary>Runs to the end and returns (exit status, stdout, stderr).</summary>
    public static async Task<(int Status, string Stdout, string Stderr)> RunAsync((string File, string[] Prefix) binary, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        using RunningProcess p = Start(binary, args, environment);
        bool exited = await p.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exited, $"{binary.File} {string.Join(' ', args)} did not finish");
        return (p.ExitCode, string.Join('\n', p.Stdout), string.Join('\n', p.Stderr));
    }

    /// <summary>Sends SIGTERM, as systemd does on stop.</summary>
    public void Terminate()
    {
        const int SIGTERM = 15;
        if (Interop.Kill(Id, SIGTERM) != 0)
        {
            throw new InvalidOperationException($"kill({Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits for the process to end; false if it has not within <paramref name="limit"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(cts.Token);

            // Drain the asynchronous readers.
            _process.WaitForExit();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public string Describe() =>
        $"exit {(HasExited ? ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(running)")}\nstdout:\n{string.Join('\n', Stdout)}\nstderr:\n{string.Join('\n', Stderr)}";

    private static partial class Interop
    {
        [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        public static partial int Kill(int pid, int signal);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
