using System.Text;
using AiFactory.Host.Hardware.Procfs;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// Reads a whole state file (the lease ledger's checkpoint and journal) within a bound and without ever blocking:
/// <see cref="ProcfsTextFile.ReadWhole"/> opens it O_NONBLOCK|O_NOFOLLOW, refuses anything but a regular file (a FIFO
/// opens at once and is refused instead of waiting for a writer; a device or <c>/dev/zero</c> link is refused), and
/// refuses a file past the bound whole instead of reading it into memory.
/// </summary>
public static class RegularFile
{
    /// <summary>The bytes of <paramref name="path"/>; <see cref="IOException"/> naming the file and the problem otherwise.</summary>
    public static byte[] ReadBytes(string path, int maxBytes)
    {
        byte[] name = Encoding.UTF8.GetBytes(path + "\0");
        return ProcfsTextFile.ReadWhole(name, maxBytes, out ProcfsFileStatus status, out int errno) ?? throw status switch
        {
            ProcfsFileStatus.Missing => new FileNotFoundException($"{path}: does not exist", path),
            ProcfsFileStatus.NotRegular => new IOException($"{path}: is not a regular file (a FIFO, device or link); not read"),
            ProcfsFileStatus.TooLarge => new IOException($"{path}: is larger than {maxBytes >> 20} MiB; not read"),
            _ => new IOException($"{path}: {ProcfsTextFile.Describe(status, errno, maxBytes)}"),
        };
    }
}
