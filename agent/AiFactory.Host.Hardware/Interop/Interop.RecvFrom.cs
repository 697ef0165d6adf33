using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        public const int MSG_DONTWAIT = 0x40;

        /// <summary><c>ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen)</c>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "recvfrom", SetLastError = true)]
        public static unsafe partial nint RecvFrom(int fd, byte* buffer, nuint length, int flags, SockaddrNl* from, uint* fromLength);
    }
}
