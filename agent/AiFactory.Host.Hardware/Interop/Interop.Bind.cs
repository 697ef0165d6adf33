using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary><c>struct sockaddr_nl</c> (linux/netlink.h): family, pad, port id (0 = the kernel), multicast groups.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct SockaddrNl
        {
            public ushort Family;
            public ushort Pad;
            public uint Pid;
            public uint Groups;
        }

        /// <summary><c>int bind(int fd, const struct sockaddr *addr, socklen_t len)</c>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "bind", SetLastError = true)]
        public static unsafe partial int Bind(int fd, SockaddrNl* address, uint addressLength);
    }
}
