using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary><c>int ioctl(int fd, unsigned long request, void *arg)</c>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        public static unsafe partial int Ioctl(int fd, nuint request, void* arg);
    }
}
