using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        public const int O_RDWR = 2;
        public const int O_CLOEXEC = 0x80000;

        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Open(string path, int flags);
    }
}
