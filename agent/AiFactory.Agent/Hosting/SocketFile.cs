using System.Net.Sockets;
using AiFactory.Agent.Configuration;
using AiFactory.Host.Hardware.Files;
using Microsoft.Win32.SafeHandles;

namespace AiFactory.Agent.Hosting;

/// <summary>
/// The gRPC Unix socket's file. Before Kestrel binds: its directory is created and a stale socket left by a killed
/// agent is removed, and nothing that is not a socket is ever removed (the path may be a mistyped config file). The
/// bind itself (<see cref="Bind"/>) makes the file no wider than 0660 from the moment it appears, whatever the umask.
/// At exit: the file is removed only if it is still the socket this process bound (same st_dev:st_ino).
/// </summary>
internal sealed class SocketFile(string path)
{
    /// <summary>0660: owner and group may connect (connect(2) needs write permission on the file), others may not.</summary>
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

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

    /// <summary>
    /// Kestrel's bind of the Unix listener (<c>SocketTransportOptions.CreateBoundListenSocket</c>): a stream socket
    /// bound to <paramref name="endpoint"/> whose file is never wider than 0660, not even between the bind and
    /// <see cref="Claim"/>. Linux creates the file with the mode of the socket's own inode less the umask
    /// (net/unix/af_unix.c, <c>unix_bind_bsd</c>), and that inode starts at 0777: narrowing it with fchmod before the
    /// bind does for this one file what a umask would. The umask itself is not touched: it belongs to the whole
    /// process, and another thread may be creating files at the same moment.
    /// </summary>
    /// <exception cref="IOException">The bind failed: "socket &lt;path&gt;: &lt;errno text&gt;" (the directory not writable, the name taken since <see cref="Prepare"/>).</exception>
    public static Socket Bind(UnixDomainSocketEndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using (var inode = new SafeFileHandle(socket.Handle, ownsHandle: false))
            {
                File.SetUnixFileMode(inode, Mode);
            }

            socket.Bind(endpoint);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            // The SocketException says what went wrong but not where; the daemon prints this after "cannot listen: ".
            throw new IOException($"socket {endpoint}: {ex.Message}", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Once Kestrel listens: remembers which file is ours and sets its mode to 0660, which gives the group back what a
    /// umask took at the bind (the unit's UMask=0077 makes it 0600); a file already 0660 is left as it is.
    /// </summary>
    public void Claim()
    {
        try
        {
            _bound = FileIdentity.OfPath(path) is { IsSocket: true } bound ? bound : null;
            if (_bound is not null && File.GetUnixFileMode(path) != Mode)
            {
                File.SetUnixFileMode(path, Mode);
            }
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
