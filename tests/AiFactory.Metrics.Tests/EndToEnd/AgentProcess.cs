using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AiFactory.Metrics.Tests.EndToEnd;

/// <summary>
/// The agent daemon as a child process: the AOT binary from AIFACTORY_PUBLISH_DIR when set, otherwise the JIT
/// build copied next to the tests. Its socket and state live in a fresh temp directory.
/// </summary>
internal sealed class AgentProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private AgentProcess(Process process, string directory, string socket)
    {
        _process = process;
        Directory = directory;
        Socket = socket;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Directory { get; }

    public string Socket { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public static AgentProcess Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    public static AgentProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        string dir = Path.Combine(Path.GetTempPath(), "aifactory-metrics-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        string socket = Path.Combine(dir, "agent.sock");
        ProcessStartInfo start;
        string? publish = Environment.GetEnvironmentVariable("AIFACTORY_PUBLISH_DIR");
        if (!string.IsNullOrEmpty(publish) && File.Exists(Path.Combine(publish, "aifactory-agent")))
        {
            start = new ProcessStartInfo(Path.Combine(publish, "aifactory-agent"));
        }
        else
        {
            start = new ProcessStartInfo("dotnet");
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "aifactory-agent.dll"));
        }

        start.ArgumentList.Add("--socket");
        start.ArgumentList.Add(socket);
        start.ArgumentList.Add("--state-dir");
        start.ArgumentList.Add(Path.Combine(dir, "state"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.Environment["AIFACTORY_METRICS_HOSTNAME"] = "e2e-host";
        foreach ((string key, string value) in environment)
        {
            start.Environment[key] = value;
        }
        return new AgentProcess(Process.Start(start)!, dir, socket);
    }

    /// <summary>A loopback port free at the moment of asking.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits for the process to exit; false when it still runs after <paramref name="timeout"/>.</summary>
    /// <summary>
    /// Waits for the exit, then for the redirected output to drain: <c>WaitForExit(TimeSpan)</c> alone may return before
    /// the last lines reach <see cref="Output"/> (the parameterless overload waits for end of stream).
    /// </summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return false;
        }

        _process.WaitForExit();
        return true;
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>Polls <paramref name="url"/> until it answers 200 (the daemon is up) or the process dies.</summary>
    public async Task<string> WaitForHttpAsync(string url, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the agent exited with {_process.ExitCode}: {Output}");
            }

            try
            {
                return await http.GetStringAsync(new Uri(url));
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        finally
        {
            _process.Dispose();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
