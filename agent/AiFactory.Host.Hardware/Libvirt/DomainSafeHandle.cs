using Microsoft.Win32.SafeHandles;

namespace AiFactory.Host.Hardware.Libvirt;

/// <summary>A <c>virDomainPtr</c>; freed with <c>virDomainFree</c> (which does not stop or undefine the domain).</summary>
internal sealed class DomainSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public DomainSafeHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => Interop.DomainFree(handle) >= 0;
}
