using AiFactory.Grpc.Client;
using AiFactory.Tests.Shared;

namespace AiFactory.EndToEnd.Tests;

/// <summary>
/// The agent binary started on a fixture-like tree in a fresh temp folder, with a notify socket the test binds
/// (as systemd would) and its gRPC socket inside the folder.
/// </summary>
internal sealed class AgentUnderTest : IDisposable
{
    /// <summary>How long the tests wait for anything (a safety limit on a loaded machine, not a timing assertion).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private AgentUnderTest(string dir, NotifySocket notify, RunningProcess process)
    {
        Dir = dir;
        Notify = notify;
        Process = process;
    }

    public string Dir { get; }

    public string Socket => Path.Combine(Dir, "run", "agent.sock");

    public NotifySocket Notify { get; }

    public RunningProcess Process { get; }

    /// <summary>A fresh folder with a fixture-like sysfs/procfs tree and an empty config file; open to every user.</summary>
    public static string PrepareDirectory()
    {
        string dir = Directory.CreateTempSubdirectory("aifactory-e2e-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "fixture", "sys", "bus", "pci", "devices"));
        // The least the agent accepts as a sysfs tree: the online CPUs (else it exits 66).
        Directory.CreateDirectory(Path.Combine(dir, "fixture", "sys", "devices", "system", "cpu"));
        File.WriteAllText(Path.Combine(dir, "fixture", "sys", "devices", "system", "cpu", "online"), "0\n");
        Directory.CreateDirectory(Path.Combine(dir, "fixture", "proc"));
        File.WriteAllText(Path.Combine(dir, "fixture", "proc", "cpuinfo"), "processor\t: 0\n");
        Directory.CreateDirectory(Path.Combine(dir, "run"));
        File.WriteAllText(Path.Combine(dir, "agent.yaml"), "# empty: defaults and flags only\n");
        foreach (string d in new[] { dir, Path.Combine(dir, "run") })
        {
            File.SetUnixFileMode(d, (UnixFileMode)0b111_111_111);
        }

        return dir;
    }

    /// <summary>The flags that keep the agent inside <paramref name="dir"/>; no metrics listener unless <paramref name="metricsListen"/> names one.</summary>
    public static List<string> Arguments(string dir, string metricsListen = "off") =>
    [
        "--config", Path.Combine(dir, "agent.yaml"),
        "--sysfs-root", Path.Combine(dir, "fixture", "sys"),
        "--procfs-root", Path.Combine(dir, "fixture", "proc"),
        "--state-dir", Path.Combine(dir, "state"),
        "--socket", Path.Combine(dir, "run", "agent.sock"),
        "--metrics-listen", metricsListen,
        "--shutdown-timeout", "30",
    ];

    /// <summary>
    /// Starts the agent and returns at once (before READY); on the hardware <paramref name="fixture"/> when given, and
    /// in <paramref name="dir"/> when the test prepared it (<see cref="PrepareDirectory"/>) and set something up first.
    /// </summary>
    public static AgentUnderTest Start(IReadOnlyDictionary<string, string?>? environment = null, string[]? wrapper = null, IEnumerable<string>? extraArgs = null, bool abstractNotifySocket = false, string metricsListen = "off", string? fixture = null, string? dir = null)
    {
        dir ??= PrepareDirectory();
        if (fixture is not null)
        {
            FixtureTrees.Unpack(fixture, Path.Combine(dir, "fixture"));
        }

        NotifySocket notify = abstractNotifySocket ? NotifySocket.Abstract() : NotifySocket.AtPath(dir);
        var env = new Dictionary<string, string?>(environment ?? new Dictionary<string, string?>()) { ["NOTIFY_SOCKET"] = notify.Address };
        if (!abstractNotifySocket)
        {
            File.SetUnixFileMode(notify.Address, (UnixFileMode)0b110_110_110);
        }

        RunningProcess process = RunningProcess.Start(Binaries.Agent, [.. Arguments(dir, metricsListen), .. extraArgs ?? []], env, wrapper);
        return new AgentUnderTest(dir, notify, process);
    }

    /// <summary>Starts the agent and waits for READY=1; returns the READY datagram.</summary>
    public static AgentUnderTest StartReady(out string ready, IReadOnlyDictionary<string, string?>? environment = null, string[]? wrapper = null)
    {
        AgentUnderTest agent = Start(environment, wrapper);
        ready = agent.NextNotification() ?? throw new Xunit.Sdk.XunitException("no READY=1 from the agent: " + agent.Process.Describe());
        return agent;
    }

    /// <summary>The next sd_notify datagram (null if none within <see cref="Patience"/>).</summary>
    public string? NextNotification() => Notify.Receive(Patience);

    public GrpcChannel Channel() => GrpcChannel.ForUnixSocket(Socket);

    public void Dispose()
    {
        Process.Dispose();
        Notify.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
