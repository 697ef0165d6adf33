using AiFactory.Agent.Leases;
using AiFactory.Agent.Leases.Store;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Leases.Tests.Planning;
using AiFactory.Tests.Shared;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>The ledger's checkpoint + journal on disk: replay after a crash, torn and corrupt journals, compaction.</summary>
public sealed class LeaseJournalTests
{
    private const ulong GiB = 1UL << 30;

    private static CreateLeaseRequest Ask(uint gpus = 1, string owner = "tenant-a") => new()
    {
        Spec = new LeaseSpec { Owner = owner, GpuCount = gpus, Vcpus = 4, MemoryBytes = 4 * GiB },
    };

    // The journal's arithmetic below counts one record per change: a grant with nothing to bind is one (a grant
    // that binds devices stores its reservation first, then the grant: two).
    private static readonly ILeaseDeviceBinder NothingToBind = new DeferredDeviceBinder("journal tests");

    private static Wire.LeaseLedgerCheckpoint Checkpoint(LeaseTestHost host) => LeaseCheckpoint.Decode(File.ReadAllBytes(host.Ledger.Path));

    private static LeaseJournal.Contents Journal(LeaseTestHost host) => LeaseJournal.Parse(File.ReadAllBytes(host.Ledger.JournalPath));

    private static (LeaseLedger Ledger, RecordingLogger<LeaseLedger> Log) Reload(LeaseTestHost host)
    {
        var log = new RecordingLogger<LeaseLedger>();
        var ledger = new LeaseLedger(host.Directory, log, host.Time);
        ledger.Load();
        return (ledger, log);
    }

    private static IEnumerable<Wire.Lease> All(LeaseLedger ledger) => ledger.List(includeEnded: true).Select(e => e.ToWire());

    [Fact]
    public void A_new_ledger_on_the_same_dir_replays_the_journal_to_the_state_the_old_one_answered()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        Wire.Lease a = host.Service.Lease(Ask(gpus: 2));
        Wire.Lease b = host.Service.Lease(Ask(owner: "tenant-b"));
        host.Service.Release(new ReleaseLeaseRequest { Id = a.Id });
        Wire.Lease c = host.Service.Lease(Ask());
        Assert.Equal([a.Id], Checkpoint(host).Leases.Select(l => l.Id));
        Assert.Equal(3, Journal(host).Records.Count);
        File.WriteAllBytes(host.Ledger.Path + ".tmp", "half a checkpoint"u8.ToArray());

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Equal(All(host.Ledger), All(reloaded));
        Assert.Equal(new[] { b.Id, c.Id }.Order(StringComparer.Ordinal), reloaded.List(includeEnded: false).Select(e => e.Lease.Id));
        Assert.Equal(Wire.LeaseState.Released, reloaded.Get(a.Id)!.ToWire().State);
        Assert.Contains(log.Entries, l => l.Level == LogLevel.Information && l.Message.Contains("3 journal record(s) replayed", StringComparison.Ordinal));
        Assert.Equal(3, Checkpoint(host).Leases.Count);
        Assert.Empty(Journal(host).Records);
        Assert.False(File.Exists(host.Ledger.Path + ".tmp"));
    }

    [Theory]
    [InlineData("a frame cut short")]
    [InlineData("zeros")]
    public void A_torn_last_record_is_cut_off_with_a_warning_and_the_records_before_it_are_kept(string tail)
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        Wire.Lease a = host.Service.Lease(Ask());
        Wire.Lease b = host.Service.Lease(Ask(owner: "tenant-b"));
        long good = new FileInfo(host.Ledger.JournalPath).Length;
        byte[] frame = LeaseJournal.Frame(new Wire.LeaseLedgerJournalRecord { Put = new Wire.Lease { Id = "lease-torn", Owner = "tenant-c" } }.ToByteArray());
        using (FileStream journal = File.Open(host.Ledger.JournalPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
        {
            journal.Write(tail == "zeros" ? new byte[4096] : frame.AsSpan(0, frame.Length - 5));
        }

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), reloaded.List(includeEnded: true).Select(e => e.Lease.Id));
        Assert.Null(reloaded.SetAsidePath);
        (LogLevel level, _, string warning) = Assert.Single(log.Entries, l => l.Level >= LogLevel.Warning);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains(host.Ledger.JournalPath, warning, StringComparison.Ordinal);
        Assert.Contains($"truncated it at offset {good}, keeping the 1 record(s) before it", warning, StringComparison.Ordinal);
        Assert.Equal(LeaseJournal.HeaderBytes, new FileInfo(host.Ledger.JournalPath).Length);
        Assert.Equal(2, Checkpoint(host).Leases.Count);
    }

    [Fact]
    public void A_corrupt_record_in_the_middle_of_the_journal_sets_the_journal_aside_and_keeps_the_checkpoints_leases()
    {
        // The first grant writes the checkpoint (no journal is open yet); the next two are journal records.
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        Wire.Lease a = host.Service.Lease(Ask());
        host.Service.Lease(Ask(owner: "tenant-b"));
        host.Service.Lease(Ask(owner: "tenant-c"));
        byte[] journal = File.ReadAllBytes(host.Ledger.JournalPath);
        journal[LeaseJournal.HeaderBytes + LeaseJournal.FrameHeaderBytes + 3] ^= 0x55;
        File.WriteAllBytes(host.Ledger.JournalPath, journal);

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Equal([a.Id], reloaded.List(includeEnded: true).Select(e => e.Lease.Id));
        Assert.StartsWith(host.Ledger.JournalPath + ".corrupt-", reloaded.SetAsidePath, StringComparison.Ordinal);
        Assert.True(reloaded.SetAsideKeptCheckpoint);
        Assert.Equal(journal, File.ReadAllBytes(reloaded.SetAsidePath!));
        Assert.Equal([a.Id], Checkpoint(host).Leases.Select(l => l.Id));
        Assert.Empty(Journal(host).Records);
        (LogLevel level, _, string error) = log.Entries.First(l => l.Level >= LogLevel.Warning);
        Assert.Equal(LogLevel.Error, level);
        Assert.Contains($"Lease journal {host.Ledger.JournalPath} is unreadable (record at offset {LeaseJournal.HeaderBytes} fails its checksum", error, StringComparison.Ordinal);
        Assert.Contains($"loaded the checkpoint {host.Ledger.Path} alone (1 holding lease(s))", error, StringComparison.Ordinal);
        Assert.Contains("'aifactoryctl lease show --all'", error, StringComparison.Ordinal); // a command that exists
    }

    [Fact]
    public void One_flipped_byte_in_an_empty_journal_keeps_every_lease_of_the_checkpoint_and_grants_wait_for_the_operator()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        var ids = Enumerable.Range(0, 5).Select(i => host.Service.Lease(Ask(owner: $"tenant-{i}")).Id).Order(StringComparer.Ordinal).ToList();
        Reload(host); // start-up compacts: every lease in the checkpoint, a record-free journal

        Assert.Equal(LeaseJournal.HeaderBytes, new FileInfo(host.Ledger.JournalPath).Length);
        byte[] journal = File.ReadAllBytes(host.Ledger.JournalPath);
        journal[3] ^= 0x01;
        File.WriteAllBytes(host.Ledger.JournalPath, journal);

        using var restarted = new LeaseTestHost(Topologies.DgxH100, null, host.Directory, host.Time);

        Assert.Equal(ids, restarted.Ledger.List(includeEnded: false).Select(e => e.Lease.Id));
        string aside = restarted.Ledger.SetAsidePath!;
        RpcException refused = Assert.Throws<RpcException>(() => restarted.Service.Lease(Ask()));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.StartsWith("ledger: the lease ledger was damaged (", refused.Detail, StringComparison.Ordinal);
        Assert.Contains(aside, refused.Detail, StringComparison.Ordinal);
        Assert.Contains($"delete {restarted.Ledger.AcknowledgePath} to allow grants again", refused.Detail, StringComparison.Ordinal);
        Assert.Equal(LeaseState.Active, restarted.Service.Lease(new CreateLeaseRequest { Spec = Ask().Spec, DryRun = true }).State);
        LeaseRegistration.Reconcile(restarted.Ledger, restarted.Host, restarted.Events, restarted.Logger);
        Assert.Contains(restarted.Events.Recent(), e => e.Kind == "lease.ledger_set_aside" && e.Message.Contains("the checkpoint's leases alone", StringComparison.Ordinal));

        // A restart is no acknowledgement: the marker is on disk.
        (LeaseLedger again, _) = Reload(host);
        Assert.Null(again.SetAsidePath);
        Assert.Contains(aside, again.Unacknowledged(), StringComparison.Ordinal);

        File.Delete(restarted.Ledger.AcknowledgePath);

        Assert.Null(restarted.Ledger.Unacknowledged());
        restarted.Service.Lease(Ask());
        Assert.Equal(6, restarted.Ledger.List(includeEnded: false).Count);
    }

    [Fact]
    public void A_corrupt_checkpoint_sets_both_files_aside_starts_empty_and_refuses_grants_until_acknowledged()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        host.Service.Lease(Ask());
        host.Service.Lease(Ask(owner: "tenant-b"));
        byte[] checkpoint = File.ReadAllBytes(host.Ledger.Path);
        checkpoint[^2] ^= 0x55;
        File.WriteAllBytes(host.Ledger.Path, checkpoint);
        byte[] journal = File.ReadAllBytes(host.Ledger.JournalPath);

        using var restarted = new LeaseTestHost(Topologies.DgxH100, null, host.Directory, host.Time);

        Assert.Empty(restarted.Ledger.List(includeEnded: true));
        Assert.False(restarted.Ledger.SetAsideKeptCheckpoint);
        string stamp = restarted.Ledger.SetAsidePath![host.Ledger.Path.Length..];
        Assert.Equal(checkpoint, File.ReadAllBytes(host.Ledger.Path + stamp));
        Assert.Equal(journal, File.ReadAllBytes(host.Ledger.JournalPath + stamp));
        Assert.Equal(StatusCode.FailedPrecondition, Assert.Throws<RpcException>(() => restarted.Service.Lease(Ask())).StatusCode);
    }

    [Fact]
    public void A_release_that_cannot_be_stored_is_unavailable_leaves_the_lease_holding_and_can_be_released_again()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        Wire.Lease lease = host.Service.Lease(Ask());
        Wire.Lease other = host.Service.Lease(Ask(owner: "tenant-b"));
        host.Service.Release(new ReleaseLeaseRequest { Id = other.Id });
        host.Ledger.Dispose(); // the next change writes the whole checkpoint...
        Directory.CreateDirectory(host.Ledger.Path + ".tmp"); // ...which cannot be written

        RpcException failed = Assert.Throws<RpcException>(() => host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id }));

        Assert.Equal(StatusCode.Unavailable, failed.StatusCode);
        Assert.StartsWith($"ledger: cannot store {host.Ledger.JournalPath}: ", failed.Detail, StringComparison.Ordinal);
        Assert.Contains("release it again", failed.Detail, StringComparison.Ordinal);
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        Assert.Equal([lease.Id], host.Ledger.List(includeEnded: false).Select(e => e.Lease.Id));
        Assert.Equal(2, host.Ledger.List(includeEnded: true).Count);

        Directory.Delete(host.Ledger.Path + ".tmp");
        Wire.Lease released = host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });

        Assert.Equal(Wire.LeaseState.Released, released.State);
        (LeaseLedger reloaded, _) = Reload(host);
        Assert.Equal(Wire.LeaseState.Released, reloaded.Get(lease.Id)!.ToWire().State);
    }

    [Fact]
    public async Task A_fifo_at_the_checkpoint_is_refused_naming_it_and_set_aside_instead_of_hanging_the_start()
    {
        string dir = Path.Combine(Path.GetTempPath(), "aifactory-leases-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string checkpoint = Path.Combine(dir, LeaseCheckpoint.FileName);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [checkpoint]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        try
        {
            var log = new RecordingLogger<LeaseLedger>();
            var ledger = new LeaseLedger(dir, log, TimeProvider.System);

            // Generous: only a hang (an open waiting for a writer) takes this long.
            int loaded = await Task.Run(ledger.Load).WaitAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(0, loaded);
            Assert.StartsWith(checkpoint + ".corrupt-", ledger.SetAsidePath, StringComparison.Ordinal);
            Assert.Contains(log.Entries, l => l.Level == LogLevel.Error && l.Message.Contains($"{checkpoint}: is not a regular file", StringComparison.Ordinal));
            Assert.NotNull(ledger.Unacknowledged());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_journal_larger_than_the_bound_is_set_aside_unread_and_the_checkpoint_kept()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        Wire.Lease a = host.Service.Lease(Ask());
        using (FileStream journal = File.Open(host.Ledger.JournalPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            journal.SetLength(LeaseLedger.MaxFileBytes + 1L); // sparse: no disk used
        }

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Equal([a.Id], reloaded.List(includeEnded: true).Select(e => e.Lease.Id));
        Assert.StartsWith(host.Ledger.JournalPath + ".corrupt-", reloaded.SetAsidePath, StringComparison.Ordinal);
        Assert.Contains(log.Entries, l => l.Level == LogLevel.Error && l.Message.Contains($"{host.Ledger.JournalPath}: is larger than 64 MiB", StringComparison.Ordinal));
    }

    [Fact]
    public void Compaction_at_the_threshold_keeps_every_lease_and_empties_the_journal()
    {
        // The first grant writes the checkpoint (no journal is open on an empty dir). After it, every Lease and
        // Release is one journal record, so with a threshold of 512 the 257th Lease is record 512 and compacts; its
        // Release then ends the 257th lease and evicts the oldest ended one (256 are kept): a put and a remove in one
        // append. (The agent's threshold is larger; only the arithmetic of this test needs 512.)
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind, compactAfterRecords: 512);
        var ids = new List<string>();
        for (int i = 0; i < 257; i++)
        {
            Wire.Lease lease = host.Service.Lease(Ask());
            ids.Add(lease.Id);
            host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });
        }

        Wire.LeaseLedgerCheckpoint checkpoint = Checkpoint(host);
        Assert.Equal(2UL, checkpoint.JournalGeneration);
        Assert.Equal(257, checkpoint.Leases.Count);
        Assert.Equal(Wire.LeaseState.Active, Assert.Single(checkpoint.Leases, l => l.Id == ids[^1]).State);
        LeaseJournal.Contents journal = Journal(host);
        Assert.Equal(2UL, journal.Generation);
        Assert.Equal(2, journal.Records.Count);
        Assert.Equal((ids[^1], Wire.LeaseState.Released), (journal.Records[0].Put.Id, journal.Records[0].Put.State));
        Assert.Equal(ids[0], journal.Records[1].Remove);

        (LeaseLedger reloaded, _) = Reload(host);

        Assert.Equal(All(host.Ledger), All(reloaded));
        Assert.Equal(256, reloaded.List(includeEnded: true).Count);
        Assert.Null(reloaded.Get(ids[0]));
        Assert.Empty(Journal(host).Records);
    }

    [Fact]
    public void A_crash_after_the_checkpoint_write_and_before_the_journal_is_emptied_loses_nothing_and_replays_nothing_stale()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        Wire.Lease a = host.Service.Lease(Ask());
        Wire.Lease b = host.Service.Lease(Ask(owner: "tenant-b"));
        host.Service.Release(new ReleaseLeaseRequest { Id = a.Id });
        byte[] journalBeforeCompaction = File.ReadAllBytes(host.Ledger.JournalPath);
        host.Service.Release(new ReleaseLeaseRequest { Id = b.Id });
        using LeaseTestHost compacted = host.Restart();
        Assert.Equal(2UL, Checkpoint(compacted).JournalGeneration);

        // As if the crash came after the new checkpoint's rename, before the journal was emptied: the old journal
        // (generation 1) still says b is active, which the checkpoint (generation 2) has moved past.
        File.WriteAllBytes(compacted.Ledger.JournalPath, journalBeforeCompaction);
        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(compacted);

        Assert.Equal(All(compacted.Ledger), All(reloaded));
        Assert.Empty(reloaded.List(includeEnded: false));
        Assert.Equal(2, reloaded.List(includeEnded: true).Count);
        Assert.Contains(log.Entries, l => l.Message.Contains("0 journal record(s) replayed", StringComparison.Ordinal));
        Assert.Null(reloaded.SetAsidePath);
        Assert.Equal(3UL, Checkpoint(compacted).JournalGeneration);
        Assert.Empty(Journal(compacted).Records);
    }

    [Fact]
    public void A_journal_newer_than_its_checkpoint_is_set_aside_with_it()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: NothingToBind);
        host.Service.Lease(Ask());
        File.Delete(host.Ledger.Path);

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Empty(reloaded.List(includeEnded: true));
        Assert.StartsWith(host.Ledger.JournalPath + ".corrupt-", reloaded.SetAsidePath, StringComparison.Ordinal);
        Assert.Contains(log.Entries, l => l.Level == LogLevel.Error && l.Message.Contains("journal generation 1 is newer than the checkpoint's (0)", StringComparison.Ordinal));
    }

    [Fact]
    public void The_journal_frames_records_with_a_crc32c_and_names_what_is_wrong()
    {
        var lease = new Wire.Lease { Id = "lease-1", Owner = "tenant-1", State = Wire.LeaseState.Active };
        byte[] put = LeaseJournal.PutPayload(lease.ToByteString());
        byte[] file = [.. LeaseJournal.Header(7), .. LeaseJournal.Frame(put), .. LeaseJournal.Frame(LeaseJournal.RemovePayload("lease-1"))];
        byte[] newer = System.Text.Encoding.ASCII.GetBytes("aifactory-leases-journal v2 generation=00000000000000000001\n");

        LeaseJournal.Contents contents = LeaseJournal.Parse(file);

        Assert.Equal(0xE3069283u, LeaseJournal.Crc32C("123456789"u8));
        Assert.Equal(new Wire.LeaseLedgerJournalRecord { Put = lease }.ToByteArray(), put);
        Assert.Equal(7UL, contents.Generation);
        Assert.Equal([lease.Id, "lease-1"], contents.Records.Select(r => r.Put?.Id ?? r.Remove));
        Assert.Equal(file.Length, contents.ValidLength);
        Assert.Null(contents.TornTail);
        Assert.Equal((null, 0L), (LeaseJournal.Parse(file.AsSpan(0, 10)).Generation, LeaseJournal.Parse(file.AsSpan(0, 10)).ValidLength));
        Assert.Contains("written by a newer agent", Assert.Throws<InvalidDataException>(() => LeaseJournal.Parse(newer)).Message, StringComparison.Ordinal);
        Assert.Contains("bad header \"garbage\"", Assert.Throws<InvalidDataException>(() => LeaseJournal.Parse("garbage\n"u8)).Message, StringComparison.Ordinal);
    }
}
