using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AiFactory.Agent.Leases.Store;

/// <summary>libc calls the journal needs and .NET lacks: fdatasync after an append.</summary>
internal static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdatasyncCall(SafeFileHandle fd);

    /// <summary>
    /// fdatasync(2): the file's data, and the metadata needed to read it back (its size after an append), reach the
    /// disk; returns errno, 0 on success. Unlike <c>FileStream.Flush(true)</c> (fsync) it skips timestamps.
    /// </summary>
    public static int Fdatasync(SafeFileHandle file) => FdatasyncCall(file) < 0 ? Marshal.GetLastPInvokeError() : 0;
}
