using AiFactory.Agent.Leases;
using AiFactory.Agent.Leases.Store;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Leases.Tests.Planning;
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

    private static Wire.LeaseLedgerCheckpoint Checkpoint(LeaseTestHost host) => LeaseCheckpoint.Decode(File.ReadAllBytes(host.Ledger.Path));

    private static LeaseJournal.Contents Journal(LeaseTestHost host) => LeaseJournal.Parse(File.ReadAllBytes(host.Ledger.JournalPath));

    private static (LeaseLedger Ledger, RecordingLogger<LeaseLedger> Log) Reload(LeaseTestHost host)
    {
        var log = new RecordingLogger<LeaseLedger>();
        var ledger = new LeaseLedger(host.Directory, log, host.Time);
        ledger.Load();
        return (ledger, log);
    }

    private static string NewDirectory() => Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "aifactory-journal-" + Guid.NewGuid().ToString("N"))).FullName;

    private static IEnumerable<Wire.Lease> All(LeaseLedger ledger) => ledger.List(includeEnded: true).Select(e => e.ToWire());

    [Fact]
    public void A_new_ledger_on_the_same_dir_replays_the_journal_to_the_state_the_old_one_answered()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
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
        Assert.Contains(log.Lines, l => l.Level == LogLevel.Information && l.Message.Contains("3 journal record(s) replayed", StringComparison.Ordinal));
        Assert.Equal(3, Checkpoint(host).Leases.Count);
        Assert.Empty(Journal(host).Records);
        Assert.False(File.Exists(host.Ledger.Path + ".tmp"));
    }

    [Theory]
    [InlineData("a frame cut short")]
    [InlineData("a frame whose end never reached the disk")]
    public void A_torn_last_record_is_cut_off_with_a_warning_and_the_records_before_it_are_kept(string tail)
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease a = host.Service.Lease(Ask());
        Wire.Lease b = host.Service.Lease(Ask(owner: "tenant-b"));
        long good = Journal(host).ValidLength;
        byte[] frame = LeaseJournal.Frame(new Wire.LeaseLedgerJournalRecord { Put = new Wire.Lease { Id = "lease-torn", Owner = "tenant-c" } }.ToByteArray());
        byte[] torn = tail == "a frame cut short" ? frame[..^5] : [.. frame[..^5], 0, 0, 0, 0, 0];

        // Where the crashed append went: over the preallocated zeros, right after the last good record.
        using (FileStream journal = File.Open(host.Ledger.JournalPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            journal.Position = good;
            journal.Write(torn);
        }

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), reloaded.List(includeEnded: true).Select(e => e.Lease.Id));
        Assert.Null(reloaded.SetAsidePath);
        (LogLevel level, string warning) = Assert.Single(log.Lines, l => l.Level >= LogLevel.Warning);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains(host.Ledger.JournalPath, warning, StringComparison.Ordinal);
        Assert.Contains($"truncated it at offset {good}, keeping the 1 record(s) before it", warning, StringComparison.Ordinal);
        Assert.Equal(LeaseJournal.PreallocateBytes, new FileInfo(host.Ledger.JournalPath).Length);
        Assert.Equal((0, LeaseJournal.HeaderBytes, (string?)null), (Journal(host).Records.Count, Journal(host).ValidLength, Journal(host).TornTail));
        Assert.Equal(2, Checkpoint(host).Leases.Count);
    }

    [Fact]
    public void The_journal_is_preallocated_and_its_zero_filled_tail_is_the_end_of_the_records_not_a_torn_one()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease a = host.Service.Lease(Ask());
        Wire.Lease b = host.Service.Lease(Ask(owner: "tenant-b"));
        host.Service.Release(new ReleaseLeaseRequest { Id = a.Id });
        LeaseJournal.Contents journal = Journal(host);
        Assert.Equal(LeaseJournal.PreallocateBytes, new FileInfo(host.Ledger.JournalPath).Length);
        Assert.Equal(2, journal.Records.Count);
        Assert.Null(journal.TornTail);

        // ext4 may also show a file longer than what reached the disk as zeros: more zeros are no record either.
        using (FileStream file = File.Open(host.Ledger.JournalPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
        {
            file.Write(new byte[4096]);
        }

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Equal(All(host.Ledger), All(reloaded));
        Assert.Equal([b.Id], reloaded.List(includeEnded: false).Select(e => e.Lease.Id));
        Assert.DoesNotContain(log.Lines, l => l.Level >= LogLevel.Warning);
        Assert.Contains(log.Lines, l => l.Message.Contains("2 journal record(s) replayed", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_reads_zeros_after_the_records_as_their_end_and_a_bad_frame_before_zeros_as_a_torn_tail()
    {
        byte[] put = LeaseJournal.Frame(LeaseJournal.PutPayload(new Wire.Lease { Id = "lease-1", Owner = "tenant-1" }.ToByteString()));
        byte[] remove = LeaseJournal.Frame(LeaseJournal.RemovePayload("lease-1"));
        byte[] records = [.. LeaseJournal.Header(3), .. put, .. remove];
        byte[] badChecksum = [.. put];
        badChecksum[^1] ^= 0x01;

        LeaseJournal.Contents zeros = LeaseJournal.Parse([.. records, .. new byte[1000]]);
        LeaseJournal.Contents fewZeros = LeaseJournal.Parse([.. records, 0, 0, 0]);
        LeaseJournal.Contents cutShort = LeaseJournal.Parse([.. records, .. put[..^3], .. new byte[1000]]);
        LeaseJournal.Contents lastFailsChecksum = LeaseJournal.Parse([.. records, .. badChecksum, .. new byte[1000]]);
        LeaseJournal.Contents noHeaderOnDisk = LeaseJournal.Parse(new byte[LeaseJournal.PreallocateBytes]);

        Assert.Equal((2, (long)records.Length, (string?)null), (zeros.Records.Count, zeros.ValidLength, zeros.TornTail));
        Assert.Equal((2, (long)records.Length, (string?)null), (fewZeros.Records.Count, fewZeros.ValidLength, fewZeros.TornTail));
        Assert.Equal((2, (long)records.Length), (cutShort.Records.Count, cutShort.ValidLength));
        Assert.Equal($"the last record at offset {records.Length} failing its checksum", cutShort.TornTail);
        Assert.Equal((2, (long)records.Length), (lastFailsChecksum.Records.Count, lastFailsChecksum.ValidLength));
        Assert.Equal($"the last record at offset {records.Length} failing its checksum", lastFailsChecksum.TornTail);
        Assert.Equal((null, 0, 0L), (noHeaderOnDisk.Generation, noHeaderOnDisk.Records.Count, noHeaderOnDisk.ValidLength));
        Assert.Contains("a header cut short (0 of", noHeaderOnDisk.TornTail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_frame_with_records_after_it_in_the_preallocated_file_is_still_corruption()
    {
        byte[] put = LeaseJournal.Frame(LeaseJournal.PutPayload(new Wire.Lease { Id = "lease-1", Owner = "tenant-1" }.ToByteString()));
        byte[] remove = LeaseJournal.Frame(LeaseJournal.RemovePayload("lease-1"));
        int second = LeaseJournal.HeaderBytes + put.Length;
        byte[] file = [.. LeaseJournal.Header(3), .. put, .. remove, .. put, .. new byte[4096]];
        byte[] flipped = [.. file];
        flipped[second + LeaseJournal.FrameHeaderBytes + 2] ^= 0x40;
        byte[] zeroedHeader = [.. file];
        zeroedHeader.AsSpan(second, LeaseJournal.FrameHeaderBytes).Clear();

        string checksum = Assert.Throws<InvalidDataException>(() => LeaseJournal.Parse(flipped)).Message;
        string zeroLength = Assert.Throws<InvalidDataException>(() => LeaseJournal.Parse(zeroedHeader)).Message;

        Assert.StartsWith($"record at offset {second} fails its checksum", checksum, StringComparison.Ordinal);
        Assert.StartsWith($"record at offset {second} fails its checksum", zeroLength, StringComparison.Ordinal);
    }

    [Fact]
    public void A_torn_tail_inside_the_preallocated_space_is_zeroed_on_open_and_the_next_append_lands_right_after_the_good_records()
    {
        string dir = NewDirectory();
        try
        {
            byte[] first = LeaseJournal.Frame(LeaseJournal.RemovePayload("lease-first"));
            byte[] torn = LeaseJournal.Frame(LeaseJournal.RemovePayload("lease-torn-" + new string('x', 300)));
            byte[] next = LeaseJournal.Frame(LeaseJournal.RemovePayload("lease-next"));
            long good;
            using (LeaseJournal journal = LeaseJournal.Reset(dir, 5))
            {
                journal.Append(first, 1);
                good = journal.Length;
            }

            using (FileStream file = File.Open(Path.Combine(dir, LeaseJournal.FileName), FileMode.Open, FileAccess.Write))
            {
                file.Position = good;
                file.Write(torn.AsSpan(0, 100));
            }

            LeaseJournal.Contents read = LeaseJournal.Parse(File.ReadAllBytes(Path.Combine(dir, LeaseJournal.FileName)));
            Assert.Equal((1, good), (read.Records.Count, read.ValidLength));
            Assert.NotNull(read.TornTail);

            using (LeaseJournal journal = LeaseJournal.Open(dir, read))
            {
                Assert.Equal((good, 1), (journal.Length, journal.Records));
                journal.Append(next, 1);
            }

            byte[] bytes = File.ReadAllBytes(Path.Combine(dir, LeaseJournal.FileName));
            LeaseJournal.Contents after = LeaseJournal.Parse(bytes);
            Assert.Equal(["lease-first", "lease-next"], after.Records.Select(r => r.Remove));
            Assert.Equal((good + next.Length, (string?)null, 5UL), (after.ValidLength, after.TornTail, after.Generation));
            Assert.Equal(LeaseJournal.PreallocateBytes, bytes.Length);
            Assert.DoesNotContain(bytes.AsSpan((int)after.ValidLength).ToArray(), x => x != 0);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Appends_across_the_end_of_the_preallocated_space_extend_it_and_reopening_finds_every_acknowledged_record()
    {
        string dir = NewDirectory();
        try
        {
            // 100 KB records: the eleventh crosses the first MiB, and each append is acknowledged only once it is synced.
            var acknowledged = new List<string>();
            using (LeaseJournal journal = LeaseJournal.Reset(dir, 9))
            {
                for (int i = 0; i < 25; i++)
                {
                    string id = $"lease-{i:D2}-" + new string((char)('a' + i), 100_000);
                    journal.Append(LeaseJournal.Frame(LeaseJournal.RemovePayload(id)), 1);
                    acknowledged.Add(id);
                }

                Assert.Equal(25, journal.Records);
            }

            // A crash right after the last acknowledged append: nothing closed the journal cleanly before this read.
            byte[] bytes = File.ReadAllBytes(Path.Combine(dir, LeaseJournal.FileName));
            LeaseJournal.Contents read = LeaseJournal.Parse(bytes);

            Assert.Equal(acknowledged, read.Records.Select(r => r.Remove));
            Assert.Null(read.TornTail);
            Assert.Equal(3L * LeaseJournal.PreallocateBytes, bytes.Length);
            Assert.True(read.ValidLength > 2L * LeaseJournal.PreallocateBytes);
            Assert.DoesNotContain(bytes.AsSpan((int)read.ValidLength).ToArray(), x => x != 0);

            using (LeaseJournal reopened = LeaseJournal.Open(dir, read))
            {
                reopened.Append(LeaseJournal.Frame(LeaseJournal.RemovePayload("lease-after")), 1);
            }

            Assert.Equal([.. acknowledged, "lease-after"], LeaseJournal.Parse(File.ReadAllBytes(Path.Combine(dir, LeaseJournal.FileName))).Records.Select(r => r.Remove));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void An_append_that_ends_exactly_at_the_preallocated_end_is_read_back_and_the_next_one_extends_the_file()
    {
        string dir = NewDirectory();
        try
        {
            byte[] one = LeaseJournal.Frame(LeaseJournal.RemovePayload("lease-one"));
            int fill = LeaseJournal.PreallocateBytes - LeaseJournal.HeaderBytes - one.Length;

            // A remove record's payload is its tag, the id's length (3 bytes for these sizes) and the id.
            byte[] filler = LeaseJournal.Frame(LeaseJournal.RemovePayload(new string('f', fill - LeaseJournal.FrameHeaderBytes - 4)));
            Assert.Equal(fill, filler.Length);
            using (LeaseJournal journal = LeaseJournal.Reset(dir, 2))
            {
                journal.Append(filler, 1);
                journal.Append(one, 1);
                Assert.Equal(LeaseJournal.PreallocateBytes, journal.Length);
                Assert.Equal(LeaseJournal.PreallocateBytes, new FileInfo(Path.Combine(dir, LeaseJournal.FileName)).Length);
                LeaseJournal.Contents full = LeaseJournal.Parse(File.ReadAllBytes(Path.Combine(dir, LeaseJournal.FileName)));
                Assert.Equal((2, (long)LeaseJournal.PreallocateBytes, (string?)null), (full.Records.Count, full.ValidLength, full.TornTail));

                journal.Append(one, 1);
            }

            byte[] bytes = File.ReadAllBytes(Path.Combine(dir, LeaseJournal.FileName));
            Assert.Equal(2L * LeaseJournal.PreallocateBytes, bytes.Length);
            Assert.Equal(3, LeaseJournal.Parse(bytes).Records.Count);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_corrupt_record_in_the_middle_of_the_journal_sets_both_files_aside_and_the_ledger_starts_empty()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Service.Lease(Ask());
        host.Service.Lease(Ask(owner: "tenant-b"));
        host.Service.Lease(Ask(owner: "tenant-c"));
        byte[] journal = File.ReadAllBytes(host.Ledger.JournalPath);
        journal[LeaseJournal.HeaderBytes + LeaseJournal.FrameHeaderBytes + 3] ^= 0x55;
        File.WriteAllBytes(host.Ledger.JournalPath, journal);
        byte[] checkpoint = File.ReadAllBytes(host.Ledger.Path);

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Empty(reloaded.List(includeEnded: true));
        Assert.StartsWith(host.Ledger.Path + ".corrupt-", reloaded.SetAsidePath, StringComparison.Ordinal);
        string stamp = reloaded.SetAsidePath![host.Ledger.Path.Length..];
        Assert.Equal(checkpoint, File.ReadAllBytes(host.Ledger.Path + stamp));
        Assert.Equal(journal, File.ReadAllBytes(host.Ledger.JournalPath + stamp));
        Assert.False(File.Exists(host.Ledger.Path));
        Assert.False(File.Exists(host.Ledger.JournalPath));
        (LogLevel level, string error) = Assert.Single(log.Lines, l => l.Level >= LogLevel.Warning);
        Assert.Equal(LogLevel.Error, level);
        Assert.Contains($"Lease ledger {host.Ledger.JournalPath} is unreadable (record at offset {LeaseJournal.HeaderBytes} fails its checksum", error, StringComparison.Ordinal);
        Assert.Contains("EMPTY ledger", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Compaction_at_the_threshold_keeps_every_lease_and_empties_the_journal()
    {
        // The first grant writes the checkpoint (no journal is open on an empty dir). After it, every Lease and
        // Release is one journal record, so with a threshold of 512 the 257th Lease is record 512 and compacts; its
        // Release then ends the 257th lease and evicts the oldest ended one (256 are kept): a put and a remove in one
        // append. (The agent's threshold is larger; only the arithmetic of this test needs 512.)
        using var host = new LeaseTestHost(Topologies.DgxH100, compactAfterRecords: 512);
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
        using var host = new LeaseTestHost(Topologies.DgxH100);
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
        Assert.Contains(log.Lines, l => l.Message.Contains("0 journal record(s) replayed", StringComparison.Ordinal));
        Assert.Null(reloaded.SetAsidePath);
        Assert.Equal(3UL, Checkpoint(compacted).JournalGeneration);
        Assert.Empty(Journal(compacted).Records);
    }

    [Fact]
    public void A_journal_newer_than_its_checkpoint_is_set_aside_with_it()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Service.Lease(Ask());
        File.Delete(host.Ledger.Path);

        (LeaseLedger reloaded, RecordingLogger<LeaseLedger> log) = Reload(host);

        Assert.Empty(reloaded.List(includeEnded: true));
        Assert.StartsWith(host.Ledger.JournalPath + ".corrupt-", reloaded.SetAsidePath, StringComparison.Ordinal);
        Assert.Contains(log.Lines, l => l.Level == LogLevel.Error && l.Message.Contains("journal generation 1 is newer than the checkpoint's (0)", StringComparison.Ordinal));
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
