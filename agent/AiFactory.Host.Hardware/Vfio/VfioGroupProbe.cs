using System.Runtime.InteropServices;
using AiFactory.Host.Hardware.Interop;

namespace AiFactory.Host.Hardware.Vfio;

/// <summary>
/// <c>VFIO_GROUP_GET_STATUS</c> through open/ioctl/close on <c>&lt;dev&gt;/vfio/N</c>. The group file is exclusive:
/// while a VM holds it the open fails with EBUSY, which is reported, not retried.
/// </summary>
public sealed class VfioGroupProbe(string devRoot = "/dev") : IVfioGroupProbe
{
    // _IO(VFIO_TYPE ';', VFIO_BASE 100 + 3)
    private const nuint VfioGroupGetStatus = (0x3B << 8) | 103;
    private const uint FlagViable = 1;
    private const uint FlagContainerSet = 2;

    /// <inheritdoc />
    public unsafe VfioGroupStatus GetStatus(int group)
    {
        string path = Path.Join(devRoot, "vfio", group.ToString(System.Globalization.CultureInfo.InvariantCulture));
        int fd = Interop.Interop.Libc.Open(path, Interop.Interop.Libc.O_RDWR | Interop.Interop.Libc.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return new VfioGroupStatus(group, false, false, $"open {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }

        try
        {
            GroupStatus status = new() { ArgSz = (uint)sizeof(GroupStatus) };
            if (Interop.Interop.Libc.Ioctl(fd, VfioGroupGetStatus, &status) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return new VfioGroupStatus(group, false, false, $"VFIO_GROUP_GET_STATUS on {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            }

            return new VfioGroupStatus(group, (status.Flags & FlagViable) != 0, (status.Flags & FlagContainerSet) != 0, null);
        }
        finally
        {
            _ = Interop.Interop.Libc.Close(fd);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct GroupStatus
    {
        public uint ArgSz;
        public uint Flags;
    }
}
