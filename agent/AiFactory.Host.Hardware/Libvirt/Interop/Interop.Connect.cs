using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Libvirt;

internal static partial class Interop
{
    /// <summary><c>virConnectPtr virConnectOpen(const char *name)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectOpen", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial ConnectSafeHandle ConnectOpen(string name);

    /// <summary><c>int virConnectClose(virConnectPtr conn)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectClose")]
    internal static partial int ConnectClose(IntPtr conn);

    /// <summary><c>char *virConnectGetCapabilities(virConnectPtr conn)</c>; the caller frees.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virConnectGetCapabilities")]
    internal static partial IntPtr ConnectGetCapabilities(ConnectSafeHandle conn);

    /// <summary><c>void free(void *)</c>.</summary>
    [LibraryImport(Libraries.Libc, EntryPoint = "free")]
    internal static partial void Free(IntPtr ptr);
}
