using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        public const int O_WRONLY = 1;
        public const int O_RDWR = 2;

        /// <summary>Truncate a regular file to 0 on open (the same value on x86-64 and arm64); sysfs attributes ignore it, as for a shell's "&gt;".</summary>
        public const int O_TRUNC = 0x200;
        public const int O_CLOEXEC = 0x80000;

        /// <summary>Create the file when absent (the same value on x86-64 and arm64).</summary>
        public const int O_CREAT = 0x40;

        /// <summary>With <see cref="O_CREAT"/>: fail with EEXIST when the name exists, a symbolic link included (the same value on x86-64 and arm64).</summary>
        public const int O_EXCL = 0x80;

        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Open(string path, int flags);

        /// <summary><c>open(path, flags, mode)</c>: with <see cref="O_CREAT"/>, the mode of a file it creates.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Open(string path, int flags, int mode);
    }
}
