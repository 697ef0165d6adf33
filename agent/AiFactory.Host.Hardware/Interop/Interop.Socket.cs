using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        public const int AF_NETLINK = 16;
        public const int SOCK_DGRAM = 2;
        public const int SOCK_CLOEXEC = 0x80000;
        public const int NETLINK_KOBJECT_UEVENT = 15;

        /// <summary><c>int socket(int domain, int type, int protocol)</c>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
        public static partial int Socket(int domain, int type, int protocol);
    }
}
