using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// Writes that must survive a crash or a power cut: the agent's state files (the lease checkpoint and journal, the
/// profile journal, the vfio override files) all go through here.
/// </summary>
public static class DurableFile
{
    /// <summary>
    /// Replaces <paramref name="path"/> with <paramref name="bytes"/> atomically and durably: written to
    /// <c>&lt;path&gt;.tmp</c>, fsync'd, renamed over <paramref name="path"/>, and the directory fsync'd so that the rename
    /// itself is on disk (kubelet's state checkpoints, etcd's snapshots). A crash leaves the old file or the new one,
    /// never a torn one; a stale <c>.tmp</c> may be left and is removed next time. The temporary is created afresh
    /// (<c>O_CREAT|O_EXCL|O_NOFOLLOW</c>, after unlinking whatever name was there): a symbolic link or FIFO put at
    /// <c>&lt;path&gt;.tmp</c> is removed, never written through; a directory there makes the write fail.
    /// </summary>
    /// <exception cref="IOException">The temporary cannot be created, written or renamed, or the directory cannot be synced.</exception>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        string temp = path + ".tmp";
        _ = Libc.Unlink(temp); // ENOENT (nothing stale) and EISDIR (left for the open to refuse) alike
        int fd = Libc.Open(temp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x1A4); // 0644
        if (fd < 0)
        {
            throw Failed("open", temp, Marshal.GetLastPInvokeError());
        }

        using (var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, 1))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>fsync(2) of a directory, so that a file created, renamed or removed in it stays so after a crash.</summary>
    /// <exception cref="IOException">The directory cannot be opened or synced; the message names it and the errno.</exception>
    public static void SyncDirectory(string directory)
    {
        // Read-only, without O_DIRECTORY: fsync needs only a descriptor, and O_DIRECTORY's value differs between
        // x86-64 and arm64 (0x10000 is O_DIRECT on arm64). O_CLOEXEC (0x80000) is the same on both.
        int fd = Libc.Open(directory, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw Failed("open", directory, Marshal.GetLastPInvokeError());
        }

        int errno = Libc.Fsync(fd) < 0 ? Marshal.GetLastPInvokeError() : 0;
        _ = Libc.Close(fd);
        if (errno != 0)
        {
            throw Failed("fsync", directory, errno);
        }
    }

    /// <summary>
    /// fdatasync(2): the file's data, and the metadata needed to read it back (its size after an append), reach the
    /// disk. Unlike <see cref="FileStream.Flush(bool)"/> (fsync) it skips timestamps.
    /// </summary>
    /// <exception cref="IOException">The sync failed; the message names the file and the errno.</exception>
    public static void SyncData(SafeFileHandle file, string name)
    {
        if (Libc.Fdatasync(file) < 0)
        {
            throw Failed("fdatasync", name, Marshal.GetLastPInvokeError());
        }
    }

    private static IOException Failed(string call, string path, int errno) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{call} of {path} failed: errno {errno}"));
}
