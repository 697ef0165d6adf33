using Microsoft.Win32.SafeHandles;

namespace AiFactory.Host.Hardware.Libvirt;

/// <summary>A <c>virConnectPtr</c>; closed with <c>virConnectClose</c>.</summary>
internal sealed class ConnectSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public ConnectSafeHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => Interop.ConnectClose(handle) >= 0;
}
