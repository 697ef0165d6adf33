using AiFactory.Host.Model.Cpu;

namespace AiFactory.Host.Hardware.Libvirt;

/// <summary>The part of libvirt the agent calls: connections and domains. <see cref="NativeLibvirt"/> binds it.</summary>
public interface ILibvirt
{
    /// <summary>Opens a connection (<c>qemu:///system</c>, <c>test:///default</c>). Throws <see cref="LibvirtException"/>.</summary>
    ILibvirtConnection Open(string uri);
}

/// <summary>One libvirt connection.</summary>
public interface ILibvirtConnection : IDisposable
{
    /// <summary>The URI it was opened with.</summary>
    string Uri { get; }

    /// <summary>The capabilities XML (<c>virConnectGetCapabilities</c>).</summary>
    string GetCapabilities();

    /// <summary>Defines (or redefines) a persistent domain from XML.</summary>
    ILibvirtDomain Define(string xml);

    /// <summary>The domain of that name, or null when there is none.</summary>
    ILibvirtDomain? Lookup(string name);
}

/// <summary>One domain.</summary>
public interface ILibvirtDomain : IDisposable
{
    /// <summary>Its name.</summary>
    string Name { get; }

    /// <summary>True while running.</summary>
    bool IsActive { get; }

    /// <summary>True when it has a persistent definition (false for a transient domain, which exists only while running).</summary>
    bool IsPersistent { get; }

    /// <summary>The XML description: the live one, or with <paramref name="inactive"/> the persistent definition.</summary>
    string GetXml(bool inactive = false);

    /// <summary>Starts it.</summary>
    void Create();

    /// <summary>Stops it hard.</summary>
    void Destroy();

    /// <summary>Removes its persistent definition.</summary>
    void Undefine();

    /// <summary>Pins one vCPU of the running domain to host CPUs.</summary>
    void PinVcpu(int vcpu, CpuSet cpus);

    /// <summary>Pins the running domain's emulator threads.</summary>
    void PinEmulator(CpuSet cpus);
}

/// <summary>A libvirt call failed; the message is libvirt's own.</summary>
public sealed class LibvirtException : Exception
{
    /// <summary>Creates one.</summary>
    public LibvirtException(string message)
        : base(message)
    {
    }

    /// <summary>Creates one.</summary>
    public LibvirtException()
    {
    }

    /// <summary>Creates one.</summary>
    public LibvirtException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
