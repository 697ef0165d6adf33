using System.Runtime.InteropServices;
using System.Text;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>A directory the process keeps its files in (the state directory): created if missing, checked writable.</summary>
public static class WritableDirectory
{
    private const int W_OK = 2;
    private const int X_OK = 1;
    private const int AT_EACCESS = 0x200;

    /// <summary>
    /// Creates <paramref name="path"/> and its missing parents (mode 0777 less the umask, as <c>mkdir -p</c>), then
    /// checks that this process may create files in it. Returns null when it may, otherwise the path that failed and
    /// the errno text (<c>/var/lib/x: Permission denied</c>), ready for a one-line message.
    /// </summary>
    public static string? Ensure(string path)
    {
        var missing = new Stack<string>();
        for (string? p = Path.TrimEndingDirectorySeparator(path); !string.IsNullOrEmpty(p) && !Present(p); p = Path.GetDirectoryName(p))
        {
            missing.Push(p);
        }

        foreach (string dir in missing)
        {
            if (Libc.Mkdir(dir, 0x1FF) != 0 && Marshal.GetLastPInvokeError() is int errno && errno != Libc.EEXIST)
            {
                return $"{dir}: {Marshal.GetPInvokeErrorMessage(errno)}";
            }
        }

        // Something other than a directory already there (a file, a dangling link) would otherwise come out of the
        // access check below as a misleading "Permission denied".
        if (!Directory.Exists(path))
        {
            return $"{path}: {Marshal.GetPInvokeErrorMessage(Libc.ENOTDIR)}";
        }

        return Access(path, W_OK | X_OK);
    }

    /// <summary>Whether anything is at <paramref name="path"/>: a directory, a file or a link, dangling or not.</summary>
    private static bool Present(string path) => Directory.Exists(path) || File.Exists(path) || new FileInfo(path).LinkTarget is not null;

    private static unsafe string? Access(string path, int mode)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            // AT_EACCESS: the effective ids decide, as they do when the file is created; EROFS shows too.
            return Libc.FAccessAt(Libc.AT_FDCWD, p, mode, AT_EACCESS) == 0 ? null : $"{path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
        }
    }
}
