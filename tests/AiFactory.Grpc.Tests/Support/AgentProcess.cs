using System.Diagnostics;
using System.Reflection;

namespace AiFactory.Grpc.Tests.Support;

/// <summary>
/// The agent daemon on an empty fixture tree in a fresh temp folder: the native-AOT binary from
/// <c>$AIFACTORY_PUBLISH_DIR</c> (tools/test.sh sets it), else the JIT build through <c>dotnet</c>.
/// </summary>
internal sealed class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;

    private AgentProcess(Process process, string dir)
    {
        _process = process;
        Dir = dir;
    }

    public string Dir { get; }

    public string SocketPath => Path.Combine(Dir, "agent.sock");

    public int Pid => _process.Id;

    public static async Task<AgentProcess> StartAsync()
    {
        string dir = Directory.CreateTempSubdirectory("aifactory-grpc-agent-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "fixture", "sys", "bus", "pci", "devices"));
        // The least the agent accepts as a sysfs tree: the online CPUs (else it exits 66).
        Directory.CreateDirectory(Path.Combine(dir, "fixture", "sys", "devices", "system", "cpu"));
        File.WriteAllText(Path.Combine(dir, "fixture", "sys", "devices", "system", "cpu", "online"), "0\n");
        Directory.CreateDirectory(Path.Combine(dir, "fixture", "proc"));
        File.WriteAllText(Path.Combine(dir, "fixture", "proc", "cpuinfo"), "processor\t: 0\n");
        File.WriteAllText(Path.Combine(dir, "agent.yaml"), "# empty\n");

        (string file, string[] prefix) = Binary();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in prefix.Concat([
            "--config", Path.Combine(dir, "agent.yaml"),
            "--sysfs-root", Path.Combine(dir, "fixture", "sys"),
            "--procfs-root", Path.Combine(dir, "fixture", "proc"),
            "--state-dir", Path.Combine(dir, "state"),
            "--socket", Path.Combine(dir, "agent.sock"),
            "--metrics-listen", "off",
        ]))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("NOTIFY_SOCKET");
        Process process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var agent = new AgentProcess(process, dir);
        for (int i = 0; i < 600 && !File.Exists(agent.SocketPath); i++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the agent exited with {process.ExitCode} before listening");
            }

            await Task.Delay(100);
        }

        return File.Exists(agent.SocketPath) ? agent : throw new TimeoutException("the agent did not create its socket within 60 s");
    }

    private static (string File, string[] Prefix) Binary()
    {
        if (Environment.GetEnvironmentVariable("AIFACTORY_PUBLISH_DIR") is { Length: > 0 } publish)
        {
            return (Path.Combine(publish, "aifactory-agent"), []);
        }

        string dll = Path.GetFullPath(typeof(AgentProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "JitAgentDll").Value!);
        return ("dotnet", [dll]);
    }

    /// <summary>The agent's resident set size (VmRSS), in KiB.</summary>
    public long ResidentKiB()
    {
        string line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
