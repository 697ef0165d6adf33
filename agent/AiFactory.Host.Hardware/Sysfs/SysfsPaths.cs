using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// How paths below a sysfs root are opened. The live <c>/sys</c> is the kernel's own tree and its paths are opened as
/// they are. Any other root (a fixture tree, a capture attached to a bug report) may hold a link that leads out of it
/// through a directory (<c>devices/evil -&gt; /tmp/outside/evil</c>), which checking the text of the links discovery
/// reads cannot see. There every path is resolved beneath the root: with <c>openat2(RESOLVE_BENEATH)</c> from a
/// descriptor of the root (Linux 5.6+), or, where the kernel or a seccomp filter refuses openat2, by
/// <c>realpath(3)</c> and a prefix check. A path that would leave the root fails with EXDEV.
/// </summary>
[SkipLocalsInit]
internal sealed unsafe class SysfsPaths
{
    private const int ENAMETOOLONG = 36;

    private static readonly Lazy<bool> KernelHasOpenat2 = new(ProbeOpenat2);

    private readonly string _mountPoint;
    private readonly bool _useOpenat2;
    private SafeFileHandle? _root;
    private string? _realRoot;

    /// <param name="mountPoint">The absolute mount point without a trailing slash.</param>
    /// <param name="contained">True to keep every path beneath the root.</param>
    /// <param name="useOpenat2">False to use the realpath check even where openat2 works (tests of that path).</param>
    public SysfsPaths(string mountPoint, bool contained, bool useOpenat2 = true)
    {
        _mountPoint = mountPoint;
        Prefix = mountPoint + "/";
        Contained = contained;
        _useOpenat2 = contained && useOpenat2 && KernelHasOpenat2.Value;
    }

    /// <summary>The mount point with a trailing slash.</summary>
    public string Prefix { get; }

    /// <summary>True when paths are kept beneath the root (any root but the live <c>/sys</c>).</summary>
    public bool Contained { get; }

    /// <summary>
    /// Opens <paramref name="relative"/> with <paramref name="flags"/> (O_NOFOLLOW: the last component is not followed);
    /// -1 with <paramref name="errno"/> (EXDEV when a contained path would leave the root).
    /// </summary>
    public int Open(ReadOnlySpan<char> relative, ReadOnlySpan<char> name, int flags, out int errno)
    {
        errno = 0;
        Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
        int fd;
        if (!Contained)
        {
            if (Join(Prefix, relative, name, path) < 0)
            {
                errno = ENAMETOOLONG;
                return -1;
            }

            fixed (byte* p = path)
            {
                fd = Libc.OpenAt(Libc.AT_FDCWD, p, flags);
            }
        }
        else if (_useOpenat2)
        {
            SafeFileHandle? root = Root(out errno);
            if (root is null)
            {
                return -1;
            }

            if (Join(string.Empty, relative.IsEmpty && name.IsEmpty ? "." : relative, name, path) < 0)
            {
                errno = ENAMETOOLONG;
                return -1;
            }

            var how = new Libc.OpenHow { Flags = (ulong)flags, Resolve = Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_MAGICLINKS };
            fixed (byte* p = path)
            {
                fd = (int)Libc.OpenAt2(Libc.SYS_openat2, root.DangerousGetHandle(), p, &how, (nuint)sizeof(Libc.OpenHow));
            }

            GC.KeepAlive(root);
        }
        else
        {
            return OpenByRealPath(relative, name, flags, out errno);
        }

        if (fd < 0)
        {
            errno = Marshal.GetLastSystemError();
        }

        return fd;
    }

    /// <summary>Opens a directory for <c>openat</c> and <c>getdents64</c>; see <see cref="Open"/>.</summary>
    public int OpenDirectory(string relative, out int errno) => Open(relative, [], SysfsFile.DirectoryFlags, out errno);

    /// <summary>One bounded read of <paramref name="name"/> in <paramref name="directory"/> by its path from the root.</summary>
    public int ReadFile(string directory, string name, Span<byte> buffer, out SysfsFile.Status status, out int errno)
    {
        int fd = Open(directory, name, SysfsFile.FileFlags, out int openErrno);
        return SysfsFile.ReadOpened(fd, openErrno, buffer, out status, out errno);
    }

    /// <summary>The target of the link <paramref name="name"/> in <paramref name="directory"/>; see <see cref="SysfsFile.ReadLinkAt"/>.</summary>
    public int ReadLink(string directory, string name, Span<byte> buffer, out int errno)
    {
        if (!Contained)
        {
            Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
            errno = ENAMETOOLONG;
            return Join(Prefix, directory, name, path) < 0 ? -1 : SysfsFile.ReadLinkAt(Libc.AT_FDCWD, path, buffer, out errno);
        }

        int fd = Open(directory, name, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, out errno);
        if (fd < 0)
        {
            return SysfsFile.IsMissing(errno) ? 0 : -1;
        }

        // readlinkat on an O_PATH|O_NOFOLLOW descriptor with an empty path reads that link (EINVAL: not a link).
        int n = SysfsFile.ReadLinkAt(fd, "\0"u8, buffer, out errno);
        SysfsFile.Close(fd);
        return n;
    }

    /// <summary>True when <paramref name="relative"/> exists once links are followed (beneath the root when contained).</summary>
    public bool Exists(string relative, out int errno)
    {
        if (!Contained)
        {
            Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
            errno = ENAMETOOLONG;
            return Join(Prefix, relative, [], path) >= 0 && SysfsFile.ExistsAt(Libc.AT_FDCWD, path, out errno);
        }

        int fd = Open(relative, [], Libc.O_PATH | Libc.O_CLOEXEC, out errno);
        if (fd < 0)
        {
            return false;
        }

        SysfsFile.Close(fd);
        return true;
    }

    /// <summary>Writes <paramref name="prefix"/>, <paramref name="relative"/>, "/" and <paramref name="name"/> (each part optional) as a NUL-terminated path.</summary>
    private static int Join(ReadOnlySpan<char> prefix, ReadOnlySpan<char> relative, ReadOnlySpan<char> name, Span<byte> path)
    {
        int n = 0;
        if (!Encoding.UTF8.TryGetBytes(prefix, path, out int a))
        {
            return -1;
        }

        n += a;
        if (!Encoding.UTF8.TryGetBytes(relative, path[n..], out int b))
        {
            return -1;
        }

        n += b;
        if (!name.IsEmpty)
        {
            if (n >= path.Length)
            {
                return -1;
            }

            if (b > 0)
            {
                path[n++] = (byte)'/';
            }

            if (!Encoding.UTF8.TryGetBytes(name, path[n..], out int c))
            {
                return -1;
            }

            n += c;
        }

        if (n >= path.Length)
        {
            return -1;
        }

        path[n] = 0;
        return n + 1;
    }

    /// <summary>The fallback without openat2: resolve with realpath, refuse what lands outside the root's own real path, open that.</summary>
    private int OpenByRealPath(ReadOnlySpan<char> relative, ReadOnlySpan<char> name, int flags, out int errno)
    {
        string? realRoot = RealRoot(out errno);
        if (realRoot is null)
        {
            return -1;
        }

        // With O_NOFOLLOW the last component is opened as it is, in its resolved parent; otherwise it is resolved too.
        bool followLast = (flags & Libc.O_NOFOLLOW) == 0;
        string full = name.IsEmpty ? string.Concat(Prefix, relative) : string.Concat(Prefix, relative, "/", name);
        int slash = full.LastIndexOf('/');
        string? real = RealPath(followLast ? full : full[..slash], out errno);
        if (real is null)
        {
            return -1;
        }

        if (real != realRoot && !real.StartsWith(realRoot + "/", StringComparison.Ordinal))
        {
            errno = SysfsFile.EXDEV;
            return -1;
        }

        string open = followLast ? real : real + full[slash..];
        int fd;
        fixed (byte* p = SysfsFile.NativePath(open))
        {
            fd = Libc.OpenAt(Libc.AT_FDCWD, p, flags);
        }

        if (fd < 0)
        {
            errno = Marshal.GetLastSystemError();
        }

        return fd;
    }

    private string? RealRoot(out int errno)
    {
        errno = 0;
        return _realRoot ??= RealPath(_mountPoint.Length == 0 ? "/" : _mountPoint, out errno);
    }

    private static string? RealPath(string path, out int errno)
    {
        errno = 0;
        byte* resolved = stackalloc byte[SysfsFile.MaxPath];
        fixed (byte* p = SysfsFile.NativePath(path))
        {
            if (Libc.RealPath(p, resolved) is null)
            {
                errno = Marshal.GetLastSystemError();
                return null;
            }
        }

        return Marshal.PtrToStringUTF8((nint)resolved);
    }

    /// <summary>A descriptor of the root directory, opened once (not while the root is missing: it may appear later).</summary>
    private SafeFileHandle? Root(out int errno)
    {
        errno = 0;
        SafeFileHandle? root = Volatile.Read(ref _root);
        if (root is not null)
        {
            return root;
        }

        int fd;
        fixed (byte* p = SysfsFile.NativePath(_mountPoint.Length == 0 ? "/" : _mountPoint))
        {
            fd = Libc.OpenAt(Libc.AT_FDCWD, p, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        }

        if (fd < 0)
        {
            errno = Marshal.GetLastSystemError();
            return null;
        }

        var opened = new SafeFileHandle(fd, ownsHandle: true);
        SafeFileHandle? raced = Interlocked.CompareExchange(ref _root, opened, null);
        if (raced is not null)
        {
            opened.Dispose();
            return raced;
        }

        return opened;
    }

    /// <summary>Whether openat2 answers here: a kernel before 5.6 gives ENOSYS, some container seccomp profiles EPERM.</summary>
    private static bool ProbeOpenat2()
    {
        var how = new Libc.OpenHow { Flags = (ulong)(Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC) };
        byte* slash = stackalloc byte[] { (byte)'/', 0 };
        int fd = (int)Libc.OpenAt2(Libc.SYS_openat2, Libc.AT_FDCWD, slash, &how, (nuint)sizeof(Libc.OpenHow));
        if (fd < 0)
        {
            return false;
        }

        SysfsFile.Close(fd);
        return true;
    }
}
