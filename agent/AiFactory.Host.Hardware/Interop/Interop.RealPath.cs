using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary><c>char *realpath(const char *path, char *resolved)</c>: <paramref name="resolved"/> holds PATH_MAX bytes; null with errno on failure.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "realpath", SetLastError = true)]
        public static unsafe partial byte* RealPath(byte* path, byte* resolved);
    }
}
