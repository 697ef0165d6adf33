using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>The <c>dirfd</c> meaning "relative to the working directory" (an absolute path ignores it).</summary>
        public const int AT_FDCWD = -100;
        public const int O_RDONLY = 0;
        public const int O_NOCTTY = 0x100;
        public const int O_NONBLOCK = 0x800;

        // O_DIRECTORY and O_NOFOLLOW differ between architectures: x86-64 (and the generic table) 0x10000 / 0x20000,
        // arm64 (Grace Hopper, Grace Blackwell) 0x4000 / 0x8000.
        private static readonly bool Arm = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;

        /// <summary>Fail unless the path is a directory.</summary>
        public static readonly int O_DIRECTORY = Arm ? 0x4000 : 0x10000;

        /// <summary>Fail with ELOOP when the last component is a symbolic link.</summary>
        public static readonly int O_NOFOLLOW = Arm ? 0x8000 : 0x20000;

        /// <summary><c>int openat(int dirfd, const char *path, int flags)</c>: <paramref name="path"/> is null-terminated.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "openat", SetLastError = true)]
        public static unsafe partial int OpenAt(int dirFd, byte* path, int flags);
    }
}
