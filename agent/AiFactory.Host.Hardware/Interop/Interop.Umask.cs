using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary><c>mode_t umask(mode_t mask)</c>: sets the process's file mode creation mask, returns the previous one (never fails).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "umask")]
        public static partial uint Umask(uint mask);
    }
}
