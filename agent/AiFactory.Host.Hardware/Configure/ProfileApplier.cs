using System.Diagnostics;
using System.Globalization;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Hardware.Vfio;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// Runs a profile plan against the kernel: for each step, the inverse is journaled (fsync'd) first, then the step
/// asserts the current value, writes only the difference and reads the result back. A failure rolls back the steps
/// already done in this apply, in reverse, and reports the step, the file and the errno. Decides nothing: the plan
/// comes from the planner.
/// </summary>
public sealed partial class ProfileApplier
{
    private readonly SysfsTree _sysfs;
    private readonly ISysfsWriter _writer;
    private readonly ISysfsWriter? _procfsWriter;
    private readonly ProfileJournal _journal;
    private readonly IVfioGroupProbe _groups;
    private readonly ISystemctl _systemctl;
    private readonly IModuleLoader _modules;
    private readonly VfioBinder _binder;

    /// <summary>Creates an applier over one sysfs root (and optionally procfs, for <c>sys/vm/compact_memory</c>).</summary>
    public ProfileApplier(SysfsTree sysfs, ISysfsWriter writer, ISysfsWriter? procfsWriter, ProfileJournal journal, IVfioGroupProbe groups, ISystemctl systemctl, IModuleLoader modules)
    {
        _sysfs = sysfs;
        _writer = writer;
        _procfsWriter = procfsWriter;
        _journal = journal;
        _groups = groups;
        _systemctl = systemctl;
        _modules = modules;
        _binder = new VfioBinder(sysfs, writer) { ProbeTimeout = ProbeTimeout };
    }

    /// <summary>How long a driver probe may take.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long VFs may take to appear after <c>sriov_numvfs</c> is written.</summary>
    public TimeSpan VfTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after compaction when the kernel gives fewer hugepages than asked.</summary>
    public int HugepageRetries { get; init; } = 3;

    /// <summary>Called after each step has run and been verified (fault injection in tests: the kill -9 proof).</summary>
    public Action<int>? AfterStep { get; init; }

    /// <summary>Where boot-time driver overrides are persisted (one file per device); null: persist steps fail.</summary>
    public string? OverridesDir { get; init; }

    /// <summary>The NVML layer for MIG steps; null on a host without NVML (a plan with MIG steps then fails).</summary>
    public IMigControl? Mig { get; init; }

    /// <summary>The binder (shared with leases).</summary>
    public VfioBinder Binder => _binder;

    /// <summary>
    /// Applies <paramref name="steps"/> in order; on failure rolls back and says why. When an inverse action fails
    /// too, the journal is kept (phase <c>rollback-failed</c>) and the report lists the failed actions.
    /// </summary>
    /// <exception cref="RollbackPendingException">An earlier rollback failed: nothing runs until <see cref="Recover"/> succeeds.</exception>
    /// <exception cref="IOException">A journal of an earlier apply is still there (recover first).</exception>
    public ApplyReport Apply(IReadOnlyList<ProfileStep> steps, string applyId)
    {
        if (_journal.Exists)
        {
            // Begin would replace the only record of what an earlier apply left to undo.
            JournalDocument earlier = _journal.Load();
            throw earlier.Phase == ProfileJournal.RollbackFailedPhase
                ? new RollbackPendingException(_journal.FilePath, earlier.ApplyId, earlier.RollbackErrors ?? [])
                : new IOException($"the journal of profile apply {earlier.ApplyId} ({earlier.Phase}) is still at {_journal.FilePath}: recover it first");
        }

        int writesBefore = Writes();
        var outcomes = new List<StepOutcome>();
        if (steps.Count == 0)
        {
            return new ApplyReport { Succeeded = true, Steps = outcomes, Writes = 0 };
        }

        _journal.Begin(applyId);
        var done = new List<JournalStep>();
        for (int i = 0; i < steps.Count; i++)
        {
            ProfileStep step = steps[i];
            var clock = Stopwatch.StartNew();
            try
            {
                var entry = new JournalStep(i, step.Kind, step.Describe(), Inverse(step));
                _journal.Append(entry);
                done.Add(entry);
                string detail = Run(step);
                outcomes.Add(new StepOutcome(i, step.Kind, step.Describe(), clock.Elapsed, true, detail));
                AfterStep?.Invoke(i);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                outcomes.Add(new StepOutcome(i, step.Kind, step.Describe(), clock.Elapsed, false, ex.Message));
                (string? file, int? errno) = ex switch
                {
                    SysfsWriteException w => (w.AttributePath, w.Errno),
                    SysfsReadException r => (r.AttributePath, r.Errno),
                    HugepageShortfallException h => (h.AttributePath, (int?)null),
                    _ => (null, null),
                };
                var failure = new StepFailure(i, step.Describe(), file, errno, ex.Message);
                (List<string> rolledBack, List<string> errors, List<JournalStep> left) = Rollback(done);
                string? kept = Settle(applyId, left, errors);
                return new ApplyReport { Succeeded = false, Steps = outcomes, Failure = failure, RolledBack = rolledBack, RollbackErrors = errors, JournalKept = kept, Writes = Writes() - writesBefore };
            }
        }

        _journal.Complete();
        return new ApplyReport { Succeeded = true, Steps = outcomes, Writes = Writes() - writesBefore };
    }

    /// <summary>
    /// Finishes what a killed run left: a journal in phase <c>applying</c> is rolled back (inverse actions in
    /// reverse), and so is one in phase <c>rollback-failed</c> (the inverse actions that failed before, which are all
    /// it keeps);
    /// one in phase <c>complete</c> is only removed. The journal is removed only when every inverse action succeeded;
    /// otherwise it is kept in phase <c>rollback-failed</c> with the failed ones. Throws
    /// <see cref="InvalidDataException"/> for a damaged journal (left in place, with what to do).
    /// </summary>
    public RecoveryReport Recover()
    {
        if (!_journal.Exists)
        {
            return RecoveryReport.None;
        }

        JournalDocument doc = _journal.Load();
        if (doc.Phase == "complete")
        {
            _journal.Remove();
            return new RecoveryReport(true, doc.Phase, doc.ApplyId, [], []);
        }

        (List<string> rolledBack, List<string> errors, List<JournalStep> left) = Rollback(doc.Steps);
        Settle(doc.ApplyId, left, errors);
        return new RecoveryReport(true, doc.Phase, doc.ApplyId, rolledBack, errors);
    }

    /// <summary>The journal of a rollback that failed (phase <c>rollback-failed</c>), or null when there is none.</summary>
    public JournalDocument? PendingRollback() =>
        _journal.Exists && _journal.Load() is { Phase: ProfileJournal.RollbackFailedPhase } doc ? doc : null;

    /// <summary>The journal file.</summary>
    public string JournalPath => _journal.FilePath;

    /// <summary>After a rollback: removes the journal when it undid everything, else keeps what is left to undo; returns the path kept.</summary>
    private string? Settle(string applyId, IReadOnlyList<JournalStep> steps, List<string> errors)
    {
        if (errors.Count == 0)
        {
            _journal.Remove();
            return null;
        }

        _journal.RollbackFailed(applyId, steps, errors);
        return _journal.FilePath;
    }

    private int _fileWrites;

    private int Writes() => _writer.WriteCount + (_procfsWriter?.WriteCount ?? 0) + (Mig?.WriteCount ?? 0) + _fileWrites;

    private string Persist(PciAddress address, string? driver)
    {
        string dir = OverridesDir ?? throw new IOException("no directory for boot-time driver overrides is configured");
        string? now = VfioOverrideFiles.Read(dir).GetValueOrDefault(address);
        if (now == driver)
        {
            return $"{address} boot-time override already {driver ?? "none"}";
        }

        _fileWrites++;
        VfioOverrideFiles.Write(dir, address, driver);
        string? back = VfioOverrideFiles.Read(dir).GetValueOrDefault(address);
        if (back != driver)
        {
            throw new IOException($"{Path.Join(dir, address.ToString())}: wrote {driver ?? "(removed)"}, read back {back ?? "nothing"}");
        }

        return driver is null ? $"removed {Path.Join(dir, address.ToString())}" : $"{Path.Join(dir, address.ToString())} = {driver}";
    }

    private IMigControl RequireMig() => Mig ?? throw new MigStepException("MIG steps need NVML, which this agent has not opened");

    /// <summary>
    /// Runs the inverse actions of <paramref name="steps"/> in reverse. Returns what ran, the failures, and the steps
    /// with only their failed actions (what a later recovery must still do; the others are done, and some, such as
    /// a VF's driver once its PF has no VFs, could not run twice).
    /// </summary>
    private (List<string> Done, List<string> Errors, List<JournalStep> Left) Rollback(IReadOnlyList<JournalStep> steps)
    {
        var done = new List<string>();
        var errors = new List<string>();
        var left = new List<JournalStep>();
        for (int s = steps.Count - 1; s >= 0; s--)
        {
            IReadOnlyList<UndoAction> undo = steps[s].Undo;
            var failed = new List<UndoAction>();
            for (int u = undo.Count - 1; u >= 0; u--)
            {
                try
                {
                    Undo(undo[u]);
                    done.Add(undo[u].ToString());
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or FormatException)
                {
                    string error = $"{undo[u]}: {ex.Message}";
                    errors.Add(error);
                    done.Add("FAILED " + error);
                    failed.Insert(0, undo[u]);
                }
            }

            if (failed.Count > 0)
            {
                left.Insert(0, steps[s] with { Undo = failed });
            }
        }

        return (done, errors, left);
    }

    private IReadOnlyList<UndoAction> Inverse(ProfileStep step) => step switch
    {
        BindVfioStep b => [new UndoAction("restore-driver", Address: b.Address.ToString(), Driver: b.FromDriver, DriverOverride: b.FromOverride)],
        SetSriovAutoprobeStep a => [new UndoAction("write", Path: Dev(a.PhysicalFunction) + "/sriov_drivers_autoprobe", Value: a.From ? "1" : "0")],
        // Undo runs in reverse: first the count goes back, then the VFs it recreates get their old drivers back.
        SetNumVfsStep n => [.. VirtualFunctions(n.PhysicalFunction).Select(vf => _binder.Current(vf)).Where(b => b.Driver is not null || b.DriverOverride is not null).Select(b => new UndoAction("restore-driver", Address: b.Address.ToString(), Driver: b.Driver, DriverOverride: b.DriverOverride)),
            new UndoAction("numvfs", Address: n.PhysicalFunction.ToString(), Value: n.From.ToString(CultureInfo.InvariantCulture))],
        BindVfsVfioStep v => [.. VirtualFunctions(v.PhysicalFunction).Select(vf => _binder.Current(vf)).Select(b => new UndoAction("restore-driver", Address: b.Address.ToString(), Driver: b.Driver, DriverOverride: b.DriverOverride))],
        SetHugepagesStep h => [new UndoAction("write", Path: HugepagePath(h.Node, h.PageSizeKiB), Value: h.From.ToString(CultureInfo.InvariantCulture))],
        SetAllowedCpusStep c => [new UndoAction("allowed-cpus", Unit: c.Unit, Value: c.From)],
        StopServiceStep s => [new UndoAction("start-service", Unit: s.Unit)],
        PersistVfioOverrideStep p => [new UndoAction("override", Address: p.Address.ToString(), Value: p.From)],
        SetMigModeStep m => [new UndoAction("mig-mode", Address: m.Gpu.ToString(), Value: m.From ? "1" : "0")],
        CreateMigInstanceStep c => [new UndoAction("mig-destroy", Address: c.Gpu.ToString(), Value: MigValue(c.Profile, c.Placement))],
        DestroyMigInstanceStep d => [new UndoAction("mig-create", Address: d.Gpu.ToString(), Value: MigValue(d.Profile, d.Placement), Compute: d.Compute?.ToString())],
        _ => [],
    };

    private string Run(ProfileStep step) => step switch
    {
        LoadModuleStep m => LoadModule(m.Module),
        BindVfioStep b => BindOne(b.Address),
        CheckVfioGroupStep g => CheckGroup(g.Group),
        SetSriovAutoprobeStep a => WriteVerified(Dev(a.PhysicalFunction) + "/sriov_drivers_autoprobe", a.To ? "1" : "0"),
        SetNumVfsStep n => SetNumVfs(n.PhysicalFunction, n.To),
        BindVfsVfioStep v => BindVfs(v.PhysicalFunction, v.Count),
        SetHugepagesStep h => SetHugepages(HugepagePath(h.Node, h.PageSizeKiB), h.To),
        SetAllowedCpusStep c => SetAllowedCpus(c.Unit, c.To),
        StopServiceStep s => Service(s.Unit, stop: true),
        StartServiceStep s => Service(s.Unit, stop: false),
        PersistVfioOverrideStep p => Persist(p.Address, p.To),
        SetMigModeStep m => RequireMig().SetMode(m.Gpu, m.To),
        CreateMigInstanceStep c => RequireMig().Create(c.Gpu, c.Profile, c.Placement),
        DestroyMigInstanceStep d => RequireMig().Destroy(d.Gpu, d.Profile, d.Placement),
        _ => throw new ArgumentException($"unknown step {step.GetType().Name}"),
    };

    private void Undo(UndoAction action)
    {
        switch (action.Op)
        {
            case "restore-driver":
                _binder.Restore(new DeviceBinding(PciAddress.Parse(action.Address!), action.Driver, action.DriverOverride));
                break;
            case "write":
                WriteVerified(action.Path!, action.Value!);
                break;
            case "numvfs":
                SetNumVfs(PciAddress.Parse(action.Address!), int.Parse(action.Value!, CultureInfo.InvariantCulture));
                break;
            case "allowed-cpus":
                SetAllowedCpus(action.Unit!, action.Value ?? string.Empty);
                break;
            case "start-service":
                _systemctl.Start(action.Unit!);
                break;
            case "override":
                Persist(PciAddress.Parse(action.Address!), action.Value);
                break;
            case "mig-mode":
                RequireMig().SetMode(PciAddress.Parse(action.Address!), action.Value == "1");
                break;
            case "mig-create":
                (string createProfile, MigPlacement createAt) = ParseMigValue(action.Value!);
                RequireMig().Create(PciAddress.Parse(action.Address!), createProfile, createAt, action.Compute is null ? null : MigComputeLayout.Parse(action.Compute));
                break;
            case "mig-destroy":
                (string destroyProfile, MigPlacement destroyAt) = ParseMigValue(action.Value!);
                RequireMig().Destroy(PciAddress.Parse(action.Address!), destroyProfile, destroyAt);
                break;
            default:
                throw new ArgumentException($"unknown journal action \"{action.Op}\"");
        }
    }

    private string LoadModule(string module)
    {
        string driverDir = "bus/pci/drivers/" + module;
        if (!_sysfs.Exists(driverDir))
        {
            _modules.Load(module);
        }

        WaitFor(() => _sysfs.Exists(driverDir), ProbeTimeout, $"{driverDir} did not appear after modprobe {module}");
        return driverDir + " present";
    }

    private string BindOne(PciAddress address)
    {
        _binder.Bind(address);
        return $"driver -> {_binder.Current(address).Driver}";
    }

    private string CheckGroup(int group)
    {
        VfioGroupStatus status = _groups.GetStatus(group);
        if (status.Error is not null)
        {
            throw new IOException($"IOMMU group {group}: {status.Error}");
        }

        if (!status.Viable)
        {
            string members = string.Join(", ", _binder.GroupMembers(group).Select(a => $"{a} ({_binder.Current(a).Driver ?? "no driver"})"));
            throw new IOException($"IOMMU group {group} is not viable (a VM start would fail with EPERM): members {members}");
        }

        return $"/dev/vfio/{group} viable";
    }

    private string WriteVerified(string path, string value)
    {
        if (_sysfs.Read(path) == value)
        {
            return $"{path} already {value}";
        }

        _writer.Write(path, value);
        string? back = _sysfs.Read(path);
        if (back != value)
        {
            throw new IOException($"{path}: wrote {value}, read back {back ?? "nothing"}");
        }

        return $"{path} = {back}";
    }

    private string SetNumVfs(PciAddress pf, int count)
    {
        string path = Dev(pf) + "/sriov_numvfs";
        long now = ReadNumber(path);
        if (now == count)
        {
            return $"{path} already {count}";
        }

        if (now != 0 && count != 0)
        {
            // The kernel refuses N -> M with EBUSY ("VFs already enabled. Disable before enabling"): go through 0.
            _writer.Write(path, "0");
            WaitFor(() => VirtualFunctions(pf).Count == 0, VfTimeout, $"{pf}: VFs still present after sriov_numvfs 0");
        }

        _writer.Write(path, count.ToString(CultureInfo.InvariantCulture));
        WaitFor(() => VirtualFunctions(pf).Count == count, VfTimeout, $"{pf}: expected {count} virtfn links within {VfTimeout.TotalSeconds} s, found {VirtualFunctions(pf).Count}");
        long back = _sysfs.ReadLong(path) ?? -1;
        if (back != count)
        {
            throw new IOException($"{path}: wrote {count}, read back {back}");
        }

        return $"{count} VFs: {string.Join(",", VirtualFunctions(pf))}";
    }

    private string BindVfs(PciAddress pf, int count)
    {
        IReadOnlyList<PciAddress> vfs = VirtualFunctions(pf);
        if (vfs.Count != count)
        {
            throw new IOException($"{pf}: {vfs.Count} VFs present, expected {count}");
        }

        foreach (PciAddress vf in vfs)
        {
            _binder.Bind(vf);
        }

        return $"{string.Join(",", vfs)} on vfio-pci";
    }

    private string SetHugepages(string path, long count)
    {
        long now = ReadNumber(path);
        if (now == count)
        {
            return $"{path} already {count}";
        }

        string value = count.ToString(CultureInfo.InvariantCulture);
        _writer.Write(path, value);
        long got = _sysfs.ReadLong(path) ?? -1;
        int attempts = 1;
        while (got < count && attempts <= HugepageRetries)
        {
            // Fragmented memory: compact, then ask again (the kernel keeps what it already gave).
            _procfsWriter?.Write("sys/vm/compact_memory", "1");
            _writer.Write(path, value);
            got = _sysfs.ReadLong(path) ?? -1;
            attempts++;
        }

        if (got != count)
        {
            throw new HugepageShortfallException(path, count, got, attempts);
        }

        return $"{path} = {got}" + (attempts > 1 ? $" after {attempts} attempts" : string.Empty);
    }

    /// <summary>A number attribute the step needs; missing or not a number: <see cref="SysfsReadException"/> with the file.</summary>
    private long ReadNumber(string path) => _sysfs.ReadLong(path) ?? throw new SysfsReadException(path, _sysfs.Read(path));

    private string SetAllowedCpus(string unit, string value)
    {
        _systemctl.SetAllowedCpus(unit, value);
        string back = _systemctl.GetAllowedCpus(unit);
        bool same = CpuSet.TryParse(back.Replace(' ', ','), out CpuSet? got, out _) && CpuSet.TryParse(value, out CpuSet? want, out _) && got.Equals(want);
        if (!same)
        {
            throw new IOException($"{unit}: set AllowedCPUs={value}, systemd reports \"{back}\"");
        }

        return $"{unit} AllowedCPUs={back}";
    }

    private string Service(string unit, bool stop)
    {
        if (stop)
        {
            _systemctl.Stop(unit);
            return $"{unit} stopped";
        }

        _systemctl.Start(unit);
        return $"{unit} start queued";
    }

    /// <summary>The VFs of a PF from its <c>virtfnN</c> links, by N (the directory order is not numeric).</summary>
    private IReadOnlyList<PciAddress> VirtualFunctions(PciAddress pf)
    {
        var vfs = new List<(int N, PciAddress Address)>();
        foreach (string name in _sysfs.List(Dev(pf)))
        {
            if (name.StartsWith("virtfn", StringComparison.Ordinal) &&
                int.TryParse(name.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out int n) &&
                PciAddress.TryParse(_sysfs.LinkName(Dev(pf) + "/" + name), out PciAddress vf))
            {
                vfs.Add((n, vf));
            }
        }

        return [.. vfs.OrderBy(v => v.N).Select(v => v.Address)];
    }

    private static void WaitFor(Func<bool> condition, TimeSpan timeout, string message)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new IOException(message);
            }

            Thread.Sleep(5);
        }
    }

    private static string MigValue(string profile, MigPlacement placement) =>
        string.Create(CultureInfo.InvariantCulture, $"{profile}@{placement.Start}:{placement.Size}");

    /// <summary>Parses "3g.40gb@4:4" (profile @ start : size) of a journaled MIG action.</summary>
    private static (string Profile, MigPlacement Placement) ParseMigValue(string value)
    {
        int at = value.LastIndexOf('@');
        int colon = value.LastIndexOf(':');
        if (at <= 0 || colon < at ||
            !uint.TryParse(value.AsSpan(at + 1, colon - at - 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint start) ||
            !uint.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint size))
        {
            throw new FormatException($"journaled MIG instance \"{value}\" is not PROFILE@START:SIZE");
        }

        return (value[..at], new MigPlacement(start, size));
    }

    private static string Dev(PciAddress address) => "bus/pci/devices/" + address;

    private static string HugepagePath(int node, long sizeKiB) =>
        string.Create(CultureInfo.InvariantCulture, $"devices/system/node/node{node}/hugepages/hugepages-{sizeKiB}kB/nr_hugepages");
}
