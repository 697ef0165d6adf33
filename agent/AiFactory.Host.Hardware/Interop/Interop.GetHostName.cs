using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary><c>gethostname(2)</c>: the UTS namespace's node name, as <c>uname -n</c> prints it.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "gethostname", SetLastError = true)]
        public static unsafe partial int GetHostName(byte* name, nuint length);
    }
}
