using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>MADV_DONTNEED: the same value on x86-64 and arm64 (asm-generic/mman-common.h).</summary>
        public const int MADV_DONTNEED = 4;

        /// <summary><c>int madvise(void *addr, size_t length, int advice)</c>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "madvise", SetLastError = true)]
        public static partial int Madvise(nuint address, nuint length, int advice);
    }
}
