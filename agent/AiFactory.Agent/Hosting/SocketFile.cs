using System.Net.Sockets;
using AiFactory.Agent.Configuration;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Hosting;

/// <summary>
/// The gRPC Unix socket's file. Before Kestrel binds: its directory is created and a stale socket left by a killed
/// agent is removed, and nothing that is not a socket is ever removed (the path may be a mistyped config file). At
/// exit: the file is removed only if it is still the socket this process bound (same st_dev:st_ino).
/// </summary>
internal sealed class SocketFile(string path)
{
    private FileIdentity? _bound;

    public string Path => path;

    /// <summary>Makes the path ready for bind; null when all is well, otherwise the one-line message and exit status.</summary>
    public (string Message, int ExitCode)? Prepare()
    {
        string? dir = System.IO.Path.GetDirectoryName(path);
        try
        {
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ($"cannot create the directory of socket {path}: {ex.Message}", Daemon.ExitCannotCreate);
        }

        FileIdentity? existing;
        try
        {
            existing = FileIdentity.OfPath(path);
        }
        catch (IOException ex)
        {
            return ($"cannot listen: socket {ex.Message}", Daemon.ExitUnavailable);
        }

        if (existing is null)
        {
            return null;
        }

        if (!existing.Value.IsSocket)
        {
            return ("invalid configuration: " + NotASocket(path), ConfigurationException.ExitCode);
        }

        // A socket file left by a killed process would make bind fail with EADDRINUSE; one that still accepts
        // belongs to a running agent, which must not lose its socket.
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return ($"cannot listen: another process accepts on {path} (is an agent already running?)", Daemon.ExitUnavailable);
        }
        catch (SocketException)
        {
            DeleteIfSame(existing.Value);
            return null;
        }
    }

    /// <summary>The error text for a path that holds something other than a socket.</summary>
    public static string NotASocket(string path) => $"socket: invalid value \"{path}\": exists and is not a socket";

    /// <summary>Once Kestrel listens: remembers which file is ours and narrows its mode to owner and group.</summary>
    public void Claim()
    {
        try
        {
            _bound = FileIdentity.OfPath(path) is { IsSocket: true } bound ? bound : null;
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: the directory's own mode (0750, the unit's RuntimeDirectoryMode=) is the real fence.
        }
    }

    /// <summary>At exit: removes the socket if it is still the one <see cref="Claim"/> saw; anything else stays.</summary>
    public void Release()
    {
        if (_bound is { } bound)
        {
            DeleteIfSame(bound);
        }
    }

    private void DeleteIfSame(FileIdentity expected)
    {
        try
        {
            if (FileIdentity.OfPath(path) is { IsSocket: true } now && now.Device == expected.Device && now.Inode == expected.Inode)
            {
                BestEffortFile.TryDelete(path);
            }
        }
        catch (IOException)
        {
        }
    }
}
