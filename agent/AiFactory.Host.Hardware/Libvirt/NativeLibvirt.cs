using System.Runtime.InteropServices;
using AiFactory.Host.Model.Cpu;

namespace AiFactory.Host.Hardware.Libvirt;

/// <summary><see cref="ILibvirt"/> over <c>libvirt.so.0</c>. Loading fails with <see cref="LibvirtException"/> when the library is absent.</summary>
public sealed class NativeLibvirt : ILibvirt
{
    private static readonly Lazy<string?> LoadError = new(() =>
    {
        try
        {
            Interop.SilenceErrorPrinting();
            return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return ex.Message;
        }
    });

    /// <summary>Null when libvirt.so.0 loads; otherwise why not.</summary>
    public static string? Unavailable => LoadError.Value;

    /// <inheritdoc />
    public ILibvirtConnection Open(string uri)
    {
        if (Unavailable is { } why)
        {
            throw new LibvirtException($"libvirt is not available: {why}");
        }

        ConnectSafeHandle handle = Interop.ConnectOpen(uri);
        if (handle.IsInvalid)
        {
            string error = Interop.LastError();
            handle.Dispose();
            throw new LibvirtException($"cannot open {uri}: {error}");
        }

        return new Connection(uri, handle);
    }

    private sealed class Connection(string uri, ConnectSafeHandle handle) : ILibvirtConnection
    {
        public string Uri => uri;

        public string GetCapabilities() =>
            Interop.TakeString(Interop.ConnectGetCapabilities(handle)) ?? throw new LibvirtException($"capabilities of {uri}: {Interop.LastError()}");

        public ILibvirtDomain Define(string xml)
        {
            DomainSafeHandle d = Interop.DomainDefineXml(handle, xml);
            if (d.IsInvalid)
            {
                string error = Interop.LastError();
                d.Dispose();
                throw new LibvirtException($"define on {uri}: {error}");
            }

            return new Domain(d);
        }

        public ILibvirtDomain? Lookup(string name)
        {
            DomainSafeHandle d = Interop.DomainLookupByName(handle, name);
            if (d.IsInvalid)
            {
                d.Dispose();
                return null;
            }

            return new Domain(d);
        }

        public void Dispose() => handle.Dispose();
    }

    private sealed class Domain(DomainSafeHandle handle) : ILibvirtDomain
    {
        public string Name => Marshal.PtrToStringUTF8(Interop.DomainGetName(handle)) ?? string.Empty;

        public bool IsActive => Check(Interop.DomainIsActive(handle), "is-active") == 1;

        public bool IsPersistent => Check(Interop.DomainIsPersistent(handle), "is-persistent") == 1;

        public string GetXml(bool inactive = false) =>
            Interop.TakeString(Interop.DomainGetXmlDesc(handle, inactive ? Interop.DomainXmlInactive : 0)) ?? throw new LibvirtException($"XML of {Name}: {Interop.LastError()}");

        public void Create() => Check(Interop.DomainCreate(handle), "start");

        public void Destroy() => Check(Interop.DomainDestroy(handle), "destroy");

        public void Undefine() => Check(Interop.DomainUndefine(handle), "undefine");

        public void PinVcpu(int vcpu, CpuSet cpus)
        {
            byte[] map = CpuMap(cpus);
            Check(Interop.DomainPinVcpu(handle, (uint)vcpu, map, map.Length), $"pin vCPU {vcpu}");
        }

        public void PinEmulator(CpuSet cpus)
        {
            byte[] map = CpuMap(cpus);
            Check(Interop.DomainPinEmulator(handle, map, map.Length, Interop.DomainAffectLive), "pin emulator");
        }

        public void Dispose() => handle.Dispose();

        private int Check(int rc, string what) => rc >= 0 ? rc : throw new LibvirtException($"{what} of {Name}: {Interop.LastError()}");

        /// <summary>libvirt's cpumap: one bit per host CPU, CPU 0 in the lowest bit of byte 0.</summary>
        private static byte[] CpuMap(CpuSet cpus)
        {
            int max = cpus.IsEmpty ? 0 : cpus.Max();
            var map = new byte[(max / 8) + 1];
            foreach (int c in cpus)
            {
                map[c / 8] |= (byte)(1 << (c % 8));
            }

            return map;
        }
    }
}
