using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using AiFactory.Grpc;
using AiFactory.Grpc.Client;
using Grpc.Health.V1;

namespace AiFactory.EndToEnd.Tests;

/// <summary>
/// The gRPC socket's file as another local user meets it: never wider than 0660, not even for the moment between the
/// bind and the agent's own chmod, whatever the umask; nothing of the bind left beside it; a stale one replaced.
/// </summary>
public sealed class UnixSocketFileTests
{
    private const UnixFileMode OwnerAndGroup = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>Runs the agent under umask 000, as someone may start it by hand; sh's umask is inherited through exec.</summary>
    private static readonly string[] LooseUmask = ["/bin/sh", "-c", "umask 000 && exec \"$@\"", "sh"];

    [Fact]
    public async Task Under_umask_000_the_socket_and_the_state_dir_are_never_open_to_others()
    {
        // Arrange: inotify on the socket's directory from before the start: every mode the socket's name is seen with,
        // from its creation on.
        string dir = AgentUnderTest.PrepareDirectory();
        string run = Path.Combine(dir, "run");
        using var watch = new SocketWatch(run, "agent.sock");

        // Act
        using AgentUnderTest agent = AgentUnderTest.Start(wrapper: LooseUmask, dir: dir);
        string? ready = agent.NextNotification();
        Assert.True(ready is not null && ready.StartsWith("READY=1", StringComparison.Ordinal), agent.Process.Describe());
        UnixFileMode served = File.GetUnixFileMode(agent.Socket);
        string[] besideTheSocket = Names(run);
        using (GrpcChannel channel = agent.Channel())
        {
            HealthCheckResponse health = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        }

        agent.Process.Terminate();
        Assert.True(await agent.Process.WaitForExitAsync(AgentUnderTest.Patience), agent.Process.Describe());
        Assert.True(watch.WaitFor(WatcherChangeTypes.Deleted, AgentUnderTest.Patience), "no IN_DELETE for the socket: " + watch);

        // Assert: the agent tightened the umask to 027 before creating anything (its state dir, made with mkdir 0777,
        // is 0750, and nothing in it is open to others), the socket was created once and removed once, never seen
        // wider than 0660 (the bind gives 0640 under umask 027, the agent then gives the group write), and nothing
        // else was beside it (the profile's ready marker aside).
        string state = Path.Combine(dir, "state");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute, File.GetUnixFileMode(state));
        string[] openToOthers = [.. Directory.EnumerateFileSystemEntries(state, "*", SearchOption.AllDirectories)
            .Where(p => (File.GetUnixFileMode(p) & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute | UnixFileMode.GroupWrite)) != 0)];
        Assert.Empty(openToOthers);
        Assert.Equal(0, agent.Process.ExitCode);
        Assert.Equal(OwnerAndGroup, served);
        WatcherChangeTypes[] seen = [.. watch.Changes.Select(c => c.Change)];
        Assert.True(seen.First() == WatcherChangeTypes.Created && seen.Last() == WatcherChangeTypes.Deleted && seen.Count(c => c == WatcherChangeTypes.Created) == 1, "inotify on the socket: " + watch);
        Assert.True(watch.Changes.All(c => c.Mode is null || (c.Mode & ~OwnerAndGroup) == 0), "seen wider than 0660: " + watch);
        Assert.Equal(["agent.sock"], besideTheSocket);
        Assert.Empty(Names(run));
    }

    [Fact]
    public async Task A_stale_socket_left_by_a_killed_agent_is_replaced_by_a_socket_that_serves_with_mode_0660()
    {
        // Arrange: an agent killed with SIGKILL cannot remove its socket.
        using AgentUnderTest first = AgentUnderTest.StartReady(out _);
        using (Process killed = Process.GetProcessById(first.Process.Id))
        {
            killed.Kill();
        }

        Assert.True(await first.Process.WaitForExitAsync(AgentUnderTest.Patience), first.Process.Describe());
        var stale = new FileInfo(first.Socket);
        Assert.True(stale.Exists, "the killed agent's socket is gone");
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            Assert.Throws<SocketException>(() => probe.Connect(new UnixDomainSocketEndPoint(first.Socket)));
        }

        // Act
        using RunningProcess second = RunningProcess.Start(Binaries.Agent, AgentUnderTest.Arguments(first.Dir), new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = first.Notify.Address });
        string? ready = first.NextNotification();

        // Assert
        Assert.True(ready is not null && ready.StartsWith("READY=1", StringComparison.Ordinal), second.Describe());
        Assert.Equal(OwnerAndGroup, File.GetUnixFileMode(first.Socket));
        using (GrpcChannel channel = first.Channel())
        {
            HealthCheckResponse health = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        }

        Assert.Equal(["agent.sock"], Names(Path.Combine(first.Dir, "run")));
        second.Terminate();
        Assert.True(await second.WaitForExitAsync(AgentUnderTest.Patience), second.Describe());
        Assert.Equal(0, second.ExitCode);
        Assert.Empty(Names(Path.Combine(first.Dir, "run")));
    }

    /// <summary>The names in <paramref name="directory"/> but the profile's ready marker, which the agent keeps beside its socket.</summary>
    private static string[] Names(string directory) =>
        [.. Directory.EnumerateFileSystemEntries(directory).Select(p => Path.GetFileName(p)).Where(n => n != "profile-applied").Order(StringComparer.Ordinal)];

    /// <summary>The inotify events on one name in a directory (creation, removal, IN_ATTRIB), each with the mode seen on arrival.</summary>
    private sealed class SocketWatch : IDisposable
    {
        private readonly FileSystemWatcher _watcher;
        private readonly ConcurrentQueue<(WatcherChangeTypes Change, UnixFileMode? Mode)> _changes = new();
        private readonly SemaphoreSlim _arrived = new(0);

        public SocketWatch(string directory, string name)
        {
            _watcher = new FileSystemWatcher(directory, name) { NotifyFilter = NotifyFilters.FileName | NotifyFilters.Attributes };
            _watcher.Created += (_, e) => Record(WatcherChangeTypes.Created, e.FullPath);
            _watcher.Changed += (_, e) => Record(WatcherChangeTypes.Changed, e.FullPath);
            _watcher.Renamed += (_, e) => Record(WatcherChangeTypes.Renamed, e.FullPath);
            _watcher.Deleted += (_, e) => Record(WatcherChangeTypes.Deleted, e.FullPath);
            _watcher.EnableRaisingEvents = true;
        }

        public IReadOnlyList<(WatcherChangeTypes Change, UnixFileMode? Mode)> Changes => [.. _changes];

        /// <summary>Waits until an event of kind <paramref name="change"/> has arrived; false if none within <paramref name="limit"/>.</summary>
        public bool WaitFor(WatcherChangeTypes change, TimeSpan limit)
        {
            var clock = Stopwatch.StartNew();
            while (!_changes.Any(c => c.Change == change))
            {
                if (!_arrived.Wait(limit - clock.Elapsed > TimeSpan.Zero ? limit - clock.Elapsed : TimeSpan.Zero))
                {
                    return _changes.Any(c => c.Change == change);
                }
            }

            return true;
        }

        public override string ToString() =>
            string.Join(", ", _changes.Select(c => $"{c.Change} {(c.Mode is { } m ? Convert.ToString((int)m, 8) : "-")}"));

        public void Dispose()
        {
            _watcher.Dispose();
            _arrived.Dispose();
        }

        private void Record(WatcherChangeTypes change, string path)
        {
            UnixFileMode? mode;
            try
            {
                mode = File.GetUnixFileMode(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                mode = null;
            }

            _changes.Enqueue((change, mode));
            _arrived.Release();
        }
    }
}
