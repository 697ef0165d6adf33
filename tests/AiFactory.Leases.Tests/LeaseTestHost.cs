using AiFactory.Agent.Events;
using AiFactory.Agent.Leases;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Leases.Tests;

/// <summary>A clock the test moves.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>A binder that records calls and can be told to fail.</summary>
internal sealed class RecordingBinder : ILeaseDeviceBinder
{
    public List<string> Calls { get; } = [];

    public bool Fail { get; set; }

    public string Description => "recording";

    public void Bind(Lease lease)
    {
        lock (Calls)
        {
            Calls.Add("bind " + lease.Id);
        }

        if (Fail)
        {
            throw new InvalidOperationException("vfio-pci bind of 0000:18:00.0 failed");
        }
    }

    public void Unbind(Lease lease)
    {
        lock (Calls)
        {
            Calls.Add("unbind " + lease.Id);
        }
    }
}

/// <summary>A lease service over a temp state dir and a literal topology, as the daemon composes it.</summary>
internal sealed class LeaseTestHost : IDisposable
{
    public LeaseTestHost(HostTopology topology, CpuSet? reserved = null, string? directory = null, ManualTime? time = null, ILeaseDeviceBinder? binder = null, int compactAfterRecords = LeaseLedger.DefaultCompactAfterRecords, ILibvirt? libvirt = null)
    {
        Directory = directory ?? Path.Combine(Path.GetTempPath(), "aifactory-leases-" + Guid.NewGuid().ToString("N"));
        Time = time ?? new ManualTime(DateTimeOffset.UtcNow);
        Host = new StaticLeaseHost(topology, reserved);
        Ledger = new LeaseLedger(Directory, NullLogger<LeaseLedger>.Instance, Time) { CompactAfterRecords = compactAfterRecords };
        Ledger.Load();
        Service = new LeaseService(Ledger, Host, binder ?? Binder, libvirt ?? new NativeLibvirt(), Events, Time, NullLogger<LeaseService>.Instance);
    }

    public string Directory { get; }

    public ManualTime Time { get; }

    public StaticLeaseHost Host { get; }

    public LeaseLedger Ledger { get; }

    public LeaseService Service { get; }

    public RecordingBinder Binder { get; } = new();

    public EventBus Events { get; } = new();

    public ILogger Logger => NullLogger.Instance;

    public LeaseTestHost Restart() => new(Host.Topology!, Host.HostReservedCpus, Directory, Time);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
