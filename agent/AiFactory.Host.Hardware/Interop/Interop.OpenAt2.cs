using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>With <c>openat</c>: a descriptor that only names a place (for <c>readlinkat</c> with an empty path, existence checks).</summary>
        public const int O_PATH = 0x200000;

        /// <summary><c>openat2</c>'s number: 437 on every architecture (syscalls added after 5.1 share one table).</summary>
        public const int SYS_openat2 = 437;

        /// <summary><c>openat2</c> <c>resolve</c> flag: fail with EXDEV when resolution would leave the directory (absolute links, <c>..</c> above it).</summary>
        public const ulong RESOLVE_BENEATH = 0x08;

        /// <summary><c>openat2</c> <c>resolve</c> flag: do not follow /proc magic links.</summary>
        public const ulong RESOLVE_NO_MAGICLINKS = 0x02;

        /// <summary>
        /// <c>long syscall(SYS_openat2, int dirfd, const char *path, struct open_how *how, size_t size)</c> (Linux 5.6+;
        /// glibc has no wrapper). ENOSYS on older kernels; EPERM or ENOSYS under some seccomp filters.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
        public static unsafe partial nint OpenAt2(nint number, nint dirFd, byte* path, OpenHow* how, nuint size);

        /// <summary><c>struct open_how</c>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct OpenHow
        {
            public ulong Flags;
            public ulong Mode;
            public ulong Resolve;
        }
    }
}
