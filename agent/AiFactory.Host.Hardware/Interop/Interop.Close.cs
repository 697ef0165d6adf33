using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }
}
