using Microsoft.Win32.SafeHandles;

namespace AiFactory.Host.Hardware.Uevents;

/// <summary>A netlink socket file descriptor; closed with <c>close(2)</c>.</summary>
internal sealed class NetlinkSocketSafeHandle : SafeHandleMinusOneIsInvalid
{
    public NetlinkSocketSafeHandle(int fd)
        : base(ownsHandle: true) => SetHandle(fd);

    protected override bool ReleaseHandle() => Interop.Interop.Libc.Close((int)handle) == 0;
}
