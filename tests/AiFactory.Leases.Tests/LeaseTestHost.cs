using AiFactory.Agent.Events;
using AiFactory.Agent.Leases;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Leases.Tests;

/// <summary>A clock the test moves; its timers fire (on the test's thread) when <see cref="Now"/> passes their due time.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private readonly List<Timer> _timers = [];
    private DateTimeOffset _now = start;

    public DateTimeOffset Now
    {
        get => _now;
        set
        {
            _now = value;
            List<Timer> due;
            lock (_timers)
            {
                due = [.. _timers.Where(t => t.Due <= value)];
                due.ForEach(t => t.Due = null);
            }

            foreach (Timer t in due)
            {
                t.Fire();
            }
        }
    }

    /// <summary>When each armed timer fires next (a timer that is not armed is left out).</summary>
    public IReadOnlyList<DateTimeOffset> Armed
    {
        get
        {
            lock (_timers)
            {
                return [.. _timers.Where(t => t.Due is not null).Select(t => t.Due!.Value)];
            }
        }
    }

    public override DateTimeOffset GetUtcNow() => Now;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(this, callback, state);
        lock (_timers)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class Timer(ManualTime time, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? Due { get; set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            // As System.Threading.Timer: a due time past 2^32 − 2 ms throws (the daemon once armed one for a 60-day lease).
            ArgumentOutOfRangeException.ThrowIfGreaterThan(dueTime, TimeSpan.FromMilliseconds(uint.MaxValue - 1));
            lock (time._timers)
            {
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : time._now + dueTime;
            }

            return true;
        }

        public void Dispose()
        {
            lock (time._timers)
            {
                time._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
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
    /// <param name="libvirtUris">The agent's libvirt-uris setting; by default qemu:///system and libvirt's test driver.</param>
    /// <param name="reserved">The host-reserved CPUs; by default the last physical core of each node (where shared emulator threads run).</param>
    public LeaseTestHost(HostTopology topology, CpuSet? reserved = null, string? directory = null, ManualTime? time = null, ILeaseDeviceBinder? binder = null, int compactAfterRecords = LeaseLedger.DefaultCompactAfterRecords, ILibvirt? libvirt = null, IReadOnlyList<string>? libvirtUris = null, IReadOnlyList<MigCapacity>? mig = null, ILogger<LeaseService>? logger = null)
    {
        Directory = directory ?? Path.Combine(Path.GetTempPath(), "aifactory-leases-" + Guid.NewGuid().ToString("N"));
        Time = time ?? new ManualTime(DateTimeOffset.UtcNow);
        Host = new StaticLeaseHost(topology, reserved ?? LastCores(topology), mig);
        Ledger = new LeaseLedger(Directory, NullLogger<LeaseLedger>.Instance, Time) { CompactAfterRecords = compactAfterRecords };
        Ledger.Load();
        Service = new LeaseService(Ledger, Host, binder ?? Binder, libvirt ?? new NativeLibvirt(), Events, Time, logger ?? NullLogger<LeaseService>.Instance,
            new LibvirtUris(libvirtUris ?? [LeaseService.DefaultLibvirtUri, Libvirt.TestDriverHost.Uri]));
    }

    public string Directory { get; }

    public ManualTime Time { get; }

    public StaticLeaseHost Host { get; }

    public LeaseLedger Ledger { get; }

    public LeaseService Service { get; }

    public RecordingBinder Binder { get; } = new();

    public EventBus Events { get; } = new();

    public ILogger Logger => NullLogger.Instance;

    public LeaseTestHost Restart(ILibvirt? libvirt = null, IReadOnlyList<string>? libvirtUris = null) =>
        new(Host.Topology!, Host.HostReservedCpus, Directory, Time, libvirt: libvirt, libvirtUris: libvirtUris);

    /// <summary>
    /// The threads of each CPU node's last physical core: a small host-reserved set (where shared emulator threads
    /// run) that takes the same from every node, so best-fit choices between nodes stay as without it.
    /// </summary>
    public static CpuSet LastCores(HostTopology topology)
    {
        CpuSet all = CpuSet.Empty;
        foreach (NumaNode node in topology.NumaNodes.Where(n => n.HasCpus))
        {
            LogicalCpu last = topology.Cpus.Cpus.Where(c => node.Cpus.Contains(c.Id)).MaxBy(c => c.Id)!;
            all = all.Union(last.ThreadSiblings.IsEmpty ? CpuSet.Of(last.Id) : last.ThreadSiblings);
        }

        return all;
    }

    public void Dispose()
    {
        Service.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
