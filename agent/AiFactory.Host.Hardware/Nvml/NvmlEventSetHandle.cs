using System.Runtime.InteropServices;
using AiFactory.Host.Hardware.Nvml.Interop;

namespace AiFactory.Host.Hardware.Nvml;

/// <summary>nvmlEventSet_t, freed with nvmlEventSetFree.</summary>
public sealed class NvmlEventSetHandle : SafeHandle
{
    public NvmlEventSetHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    internal NvmlEventSetHandle(nint handle)
        : this() => SetHandle(handle);

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => NativeMethods.EventSetFree(handle) == NvmlReturn.Success;
}
