using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary><c>ssize_t read(int fd, void *buf, size_t count)</c>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        public static unsafe partial nint Read(int fd, byte* buffer, nint count);
    }
}
