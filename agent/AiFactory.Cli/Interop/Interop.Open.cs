using System.Runtime.InteropServices;

namespace AiFactory.Cli.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        public const int O_RDONLY = 0;
        public const int O_NOCTTY = 0x100;

        /// <summary>Opening a FIFO for reading returns at once instead of waiting for a writer (the same value on x86-64 and arm64).</summary>
        public const int O_NONBLOCK = 0x800;
        public const int O_CLOEXEC = 0x80000;

        public const int ENOENT = 2;

        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Open(string path, int flags);
    }
}
