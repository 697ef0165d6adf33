using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Libvirt;

internal static partial class Interop
{
    /// <summary><c>VIR_DOMAIN_XML_INACTIVE</c>: the persistent definition rather than the live one.</summary>
    internal const uint DomainXmlInactive = 2;

    /// <summary><c>VIR_DOMAIN_AFFECT_LIVE</c>.</summary>
    internal const uint DomainAffectLive = 1;

    /// <summary><c>virDomainPtr virDomainDefineXML(virConnectPtr conn, const char *xml)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainDefineXML", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial DomainSafeHandle DomainDefineXml(ConnectSafeHandle conn, string xml);

    /// <summary><c>virDomainPtr virDomainLookupByName(virConnectPtr conn, const char *name)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial DomainSafeHandle DomainLookupByName(ConnectSafeHandle conn, string name);

    /// <summary><c>int virDomainFree(virDomainPtr domain)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainFree")]
    internal static partial int DomainFree(IntPtr domain);

    /// <summary><c>int virDomainUndefine(virDomainPtr domain)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainUndefine")]
    internal static partial int DomainUndefine(DomainSafeHandle domain);

    /// <summary><c>int virDomainCreate(virDomainPtr domain)</c>: starts a defined domain.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainCreate")]
    internal static partial int DomainCreate(DomainSafeHandle domain);

    /// <summary><c>int virDomainDestroy(virDomainPtr domain)</c>: stops it hard.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainDestroy")]
    internal static partial int DomainDestroy(DomainSafeHandle domain);

    /// <summary><c>int virDomainIsActive(virDomainPtr dom)</c>: 1, 0, or -1 on error.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainIsActive")]
    internal static partial int DomainIsActive(DomainSafeHandle domain);

    /// <summary><c>int virDomainIsPersistent(virDomainPtr dom)</c>: 1, 0, or -1 on error.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainIsPersistent")]
    internal static partial int DomainIsPersistent(DomainSafeHandle domain);

    /// <summary><c>char *virDomainGetXMLDesc(virDomainPtr domain, unsigned int flags)</c>; the caller frees.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetXMLDesc")]
    internal static partial IntPtr DomainGetXmlDesc(DomainSafeHandle domain, uint flags);

    /// <summary><c>const char *virDomainGetName(virDomainPtr domain)</c>; owned by the domain.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainGetName")]
    internal static partial IntPtr DomainGetName(DomainSafeHandle domain);

    /// <summary><c>int virDomainPinVcpu(virDomainPtr domain, unsigned int vcpu, unsigned char *cpumap, int maplen)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainPinVcpu")]
    internal static partial int DomainPinVcpu(DomainSafeHandle domain, uint vcpu, byte[] cpumap, int maplen);

    /// <summary><c>int virDomainPinEmulator(virDomainPtr domain, unsigned char *cpumap, int maplen, unsigned int flags)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virDomainPinEmulator")]
    internal static partial int DomainPinEmulator(DomainSafeHandle domain, byte[] cpumap, int maplen, uint flags);
}
