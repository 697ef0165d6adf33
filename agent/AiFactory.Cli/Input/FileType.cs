using static AiFactory.Cli.Interop.Interop;

namespace AiFactory.Cli.Input;

/// <summary>What lies at a path, in words ("a regular file", "a socket"), as statx(2) says following symbolic links, as connect(2) does.</summary>
internal static class FileType
{
    private const uint TypeMask = 0xF000; // S_IFMT

    /// <summary>The type of the file at <paramref name="path"/>, or null when it cannot be had (absent, no permission).</summary>
    public static string? Of(string path) =>
        path.Length > 0 && !path.Contains('\0', StringComparison.Ordinal) && Libc.Statx(Libc.AT_FDCWD, path, 0, Libc.STATX_TYPE, out Libc.StatxBuffer stat) == 0
            ? Name(stat.Mode)
            : null;

    /// <summary>The type of an <c>st_mode</c>, in words.</summary>
    internal static string Name(uint mode) => (mode & TypeMask) switch
    {
        0x8000 => "a regular file",
        0x4000 => "a directory",
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xC000 => "a socket",
        0xA000 => "a symbolic link",
        _ => "an unknown kind of file",
    };
}
