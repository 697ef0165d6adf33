using System.Net.Sockets;
using AiFactory.Agent.Hosting;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Tests.Hosting;

public sealed class SocketFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_regular_file_at_the_socket_path_is_refused_with_78_and_kept()
    {
        string victim = _dir.File("victim", "data\n");

        (string Message, int ExitCode)? problem = new SocketFile(victim).Prepare();

        Assert.Equal(($"invalid configuration: socket: invalid value \"{victim}\": exists and is not a socket", 78), problem);
        Assert.Equal("data\n", File.ReadAllText(victim));
    }

    [Fact]
    public void A_symbolic_link_at_the_socket_path_is_refused_and_neither_it_nor_its_target_is_removed()
    {
        string target = _dir.File("agent.yaml", "log-level: info\n");
        string link = Path.Combine(_dir.Path, "agent.sock");
        File.CreateSymbolicLink(link, target);

        (string Message, int ExitCode)? problem = new SocketFile(link).Prepare();

        Assert.Equal(78, problem?.ExitCode);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Equal("log-level: info\n", File.ReadAllText(target));
    }

    [Fact]
    public void A_stale_socket_nobody_accepts_on_is_removed()
    {
        string path = StaleSocket("agent.sock");

        Assert.Null(new SocketFile(path).Prepare());
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void A_socket_another_process_accepts_on_is_kept_and_exits_69()
    {
        string path = Path.Combine(_dir.Path, "agent.sock");
        using var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        live.Bind(new UnixDomainSocketEndPoint(path));
        live.Listen();

        Assert.Equal(69, new SocketFile(path).Prepare()?.ExitCode);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Bind_makes_the_socket_file_no_wider_than_0660_before_anything_changes_its_mode()
    {
        string path = Path.Combine(_dir.Path, "agent.sock");

        using Socket socket = SocketFile.Bind(new UnixDomainSocketEndPoint(path));

        // The mode the kernel gave the file at bind: 0660 less this process's umask (a plain bind would give 0777 less
        // the umask, 0755 under the usual 022).
        UnixFileMode mode = File.GetUnixFileMode(path);
        Assert.True((mode & ~SocketFile.Mode) == 0, $"bound with mode {Octal(mode)}");
        Assert.True(mode.HasFlag(UnixFileMode.UserRead | UnixFileMode.UserWrite), $"bound with mode {Octal(mode)}");
    }

    [Fact]
    public void Bind_returns_a_socket_that_accepts_once_listening()
    {
        string path = Path.Combine(_dir.Path, "agent.sock");
        using Socket socket = SocketFile.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen();

        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        using Socket accepted = socket.Accept();

        Assert.Equal(path, Assert.IsType<UnixDomainSocketEndPoint>(accepted.LocalEndPoint).ToString());
    }

    [Fact]
    public void Bind_never_replaces_a_socket_at_the_path_and_leaves_it_in_place()
    {
        string path = StaleSocket("agent.sock");
        FileIdentity? before = FileIdentity.OfPath(path);

        IOException ex = Assert.Throws<IOException>(() => SocketFile.Bind(new UnixDomainSocketEndPoint(path)));

        Assert.Equal($"socket {path}: Address already in use", ex.Message);
        Assert.Equal(before, FileIdentity.OfPath(path));
    }

    [Fact]
    public void Claim_gives_the_group_back_what_the_umask_took()
    {
        string path = StaleSocket("agent.sock");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        new SocketFile(path).Claim();

        Assert.Equal(SocketFile.Mode, File.GetUnixFileMode(path));
    }

    [Fact]
    public void Release_removes_the_socket_it_claimed()
    {
        string path = StaleSocket("agent.sock");
        var file = new SocketFile(path);
        file.Claim();

        file.Release();

        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Release_keeps_a_file_that_took_the_sockets_place()
    {
        string path = StaleSocket("agent.sock");
        var file = new SocketFile(path);
        file.Claim();

        File.Delete(path);
        File.WriteAllText(path, "someone else's\n");
        file.Release();

        Assert.Equal("someone else's\n", File.ReadAllText(path));
    }

    [Fact]
    public void Release_without_a_claim_removes_nothing()
    {
        string path = Path.Combine(_dir.Path, "agent.sock");
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(path));

        new SocketFile(path).Release();

        Assert.True(File.Exists(path));
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8);

    /// <summary>
    /// A socket file whose socket is closed, as a killed agent leaves it. (A disposed Socket removes the file it bound,
    /// so it is bound under another name and renamed.)
    /// </summary>
    private string StaleSocket(string name)
    {
        string path = Path.Combine(_dir.Path, name);
        string bound = path + ".bound";
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(bound));
        File.Move(bound, path);
        return path;
    }
}
