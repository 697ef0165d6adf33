using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary><c>int unlink(const char *path)</c>: removes the name itself (a symbolic link, not what it points to).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Unlink(string path);
    }
}
