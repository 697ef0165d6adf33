using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>
/// libvirt's test driver with one call made to fail, as a real one fails halfway (a vCPU that cannot be pinned, a
/// guest that does not start): every other call goes through to <see cref="NativeLibvirt"/>.
/// </summary>
internal sealed class FaultyLibvirt : ILibvirt
{
    private readonly NativeLibvirt _inner = new();

    /// <summary>The operation that fails, as libvirt's message starts: <c>start</c>, <c>pin vCPU 2</c>, <c>pin emulator</c>.</summary>
    public string? FailOn { get; set; }

    public ILibvirtConnection Open(string uri) => new Connection(this, _inner.Open(uri));

    private void Maybe(string operation, string domain)
    {
        if (FailOn == operation)
        {
            throw new LibvirtException($"{operation} of {domain}: injected failure");
        }
    }

    private sealed class Connection(FaultyLibvirt owner, ILibvirtConnection inner) : ILibvirtConnection
    {
        public string Uri => inner.Uri;

        public string GetCapabilities() => inner.GetCapabilities();

        public ILibvirtDomain Define(string xml) => new Domain(owner, inner.Define(xml));

        public ILibvirtDomain? Lookup(string name) => inner.Lookup(name) is { } d ? new Domain(owner, d) : null;

        public void Dispose() => inner.Dispose();
    }

    private sealed class Domain(FaultyLibvirt owner, ILibvirtDomain inner) : ILibvirtDomain
    {
        public string Name => inner.Name;

        public bool IsActive => inner.IsActive;

        public bool IsPersistent => inner.IsPersistent;

        public string GetXml(bool inactive = false) => inner.GetXml(inactive);

        public void Create()
        {
            owner.Maybe("start", Name);
            inner.Create();
        }

        public void Destroy() => inner.Destroy();

        public void Undefine() => inner.Undefine();

        public void PinVcpu(int vcpu, CpuSet cpus)
        {
            owner.Maybe($"pin vCPU {vcpu}", Name);
            inner.PinVcpu(vcpu, cpus);
        }

        public void PinEmulator(CpuSet cpus)
        {
            owner.Maybe("pin emulator", Name);
            inner.PinEmulator(cpus);
        }

        public void Dispose() => inner.Dispose();
    }
}
