using System.Globalization;
using AiFactory.Agent.Hosting;
using AiFactory.Agent.Leases.Store;
using AiFactory.Host.Hardware.Files;
using Google.Protobuf;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The ledger on disk: <c>leases.checkpoint</c> (every record as of a journal generation) plus <c>leases.journal</c>
/// (each change since, one durable append apiece), as etcd keeps a snapshot plus a write-ahead log.
/// </summary>
/// <remarks>
/// <para>
/// A change is one framed record — "put this whole lease record" or "remove this id" — written with one write(2) and
/// fdatasync'd before the caller is answered (a grant undone, an ended lease evicted: removes, in the same append as
/// the change that causes them, so replay is deterministic). Replay is an idempotent upsert or remove on top of the
/// checkpoint.
/// </para>
/// <para>
/// Compaction, once the journal passes <see cref="CompactAfterRecords"/> records or <see cref="CompactAfterBytes"/>
/// bytes: write the whole checkpoint the atomic way (temp → fsync → rename → fsync(dir)) naming the next journal
/// generation, then empty the journal durably under that generation. A crash before the rename leaves the old
/// checkpoint and the full journal; a crash after it leaves the new checkpoint and a journal of an older
/// generation, which load skips because the checkpoint already holds it — so nothing is lost and nothing older is
/// replayed over newer state, even when the checkpoint was written instead of an append (after a failed append the
/// journal is not trusted again until a checkpoint replaces it).
/// </para>
/// <para>
/// 8192 records: a Lease + Release round trip is two records, so a compaction (a rewrite of the ~260 records kept,
/// about 40 KB, plus the fsyncs and the new journal's creation, all metadata work for the file system) lands on one
/// round trip in 4096. Compacting every 256 round trips (the first choice, 512 records) put its file-system journal
/// commits in the way of the appends that followed: on this project's virtio disk, round trips over 4 ms went from
/// 234 and 223 to 163 and 104 of 3,000 with the larger threshold (JIT agent, two runs each). etcd snapshots after
/// 10,000 entries for the same reason.
/// Start-up replays at most about 1.4 MB (and compacts, below). 4 MiB bounds the journal when records are large
/// (many devices per lease).
/// </para>
/// <para>
/// Load compacts too whenever the journal holds anything (records, a torn tail, a stale generation) or one of the two
/// files is missing: start-up then leaves one clean checkpoint and an empty journal, the torn tail is gone before
/// anything is appended after it, and the replay cost is paid once per start instead of growing with every restart.
/// With nothing on disk (a first start, or both files just set aside) it writes nothing: the first change finds no
/// journal open and writes the checkpoint, which opens one.
/// </para>
/// </remarks>
internal sealed partial class LeaseLedger : IDisposable
{
    /// <summary>The agent's <see cref="CompactAfterRecords"/>.</summary>
    internal const int DefaultCompactAfterRecords = 8192;

    /// <summary>Journal records after which a change also compacts (tests lower it to reach it quickly).</summary>
    internal int CompactAfterRecords { get; init; } = DefaultCompactAfterRecords;

    /// <summary>Journal bytes after which a change also compacts.</summary>
    internal const long CompactAfterBytes = 4 << 20;

    // Null when the journal may not be appended to: not opened yet, or an append or compaction failed. The next
    // change then rewrites the checkpoint (which holds it) instead.
    private LeaseJournal? _journal;

    // The journal generation the checkpoint on disk names (or a later one, after a failed checkpoint write).
    private ulong _generation;

    // Set when a set-aside could not be recorded in AcknowledgePath: grants stay refused until the agent restarts.
    private string? _unacknowledgedInMemory;

    private const int MarkerLimit = 64 << 10;

    /// <summary>
    /// Reads the checkpoint, then replays the journal over it. Missing files are an empty ledger. A torn last journal
    /// record (an append a crash cut off, never acknowledged) is dropped with a warning naming the file and offset. A
    /// checkpoint that fails its header, version, checksum or parse, or a journal with a bad record before its end,
    /// is renamed to <c>&lt;file&gt;.corrupt-&lt;time&gt;</c> (both files) with one clear error line, and the agent
    /// starts with an empty ledger — never a crash loop. Then it compacts (see the remarks).
    /// </summary>
    public int Load()
    {
        lock (_gate)
        {
            ForgetLoaded();
            Directory.CreateDirectory(_directory);
            // The agent's claim on the ledger, held from here on (an empty ledger included): see LeaseLedger.ProfileGate.cs.
            TakeOwnerLock(out _);
            BestEffortFile.TryDelete(Path + ".tmp");
            bool haveCheckpoint = File.Exists(Path);
            bool haveJournal = File.Exists(JournalPath);
            LeaseJournal.Contents? journal = null;
            int replayed = 0;
            bool keptCheckpoint = false;
            string reading = Path;
            try
            {
                journal = ReadLocked(haveCheckpoint, haveJournal, ref reading);
                replayed = journal is not null && journal.Generation == _generation ? journal.Records.Count : 0;
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
            {
                _leases.Clear();
                _ended.Clear();
                _generation = 0;
                journal = null;
                if (reading == JournalPath && haveCheckpoint && ReadCheckpointAlone())
                {
                    // The checkpoint verified: only the journal is set aside, and the checkpoint's leases are kept.
                    SetAside(haveCheckpoint: false, haveJournal: true);
                    LogJournalSetAside(_logger, JournalPath, ex.Message, SetAsidePath!, Path, _leases.Values.Count(e => e.Holds));
                    keptCheckpoint = SetAsideKeptCheckpoint = true;
                }
                else
                {
                    SetAside(haveCheckpoint, haveJournal);
                    LogLedgerSetAside(_logger, reading, ex.Message, SetAsideNames!);
                }

                MarkUnacknowledged();
            }

            if (Unacknowledged() is { } why)
            {
                LogUnacknowledged(_logger, why);
            }

            if (SetAsidePath is null)
            {
                if (haveCheckpoint || haveJournal)
                {
                    LogLedgerLoaded(_logger, Path, _leases.Values.Count(e => e.Holds), _leases.Count, replayed);
                }
                else
                {
                    LogLedgerEmpty(_logger, Path);
                }
            }

            if (journal?.TornTail is { } torn)
            {
                LogJournalTornTail(_logger, JournalPath, torn, journal.ValidLength, journal.Records.Count);
            }

            // Nothing on disk (a first start, or files just set aside): write nothing yet; with no journal open, the
            // first change writes the checkpoint, which opens one.
            if ((SetAsidePath is not null && !keptCheckpoint) || !(haveCheckpoint || haveJournal))
            {
                return 0;
            }

            try
            {
                if (haveCheckpoint && journal is { Records.Count: 0, TornTail: null } && journal.Generation == _generation)
                {
                    _journal = LeaseJournal.Open(_directory, journal.ValidLength, 0);
                }
                else
                {
                    CompactLocked();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Reading worked, so the agent serves what it read; every change retries the checkpoint write.
                LogCompactionFailed(_logger, Path, ex.Message);
            }

            return _leases.Count;
        }
    }

    /// <summary>
    /// Reads the ledger as <see cref="Load"/> does, for a process other than the agent (the offline
    /// <c>aifactory-agent profile</c> command): changes no file — no compaction, no set-aside, a torn journal tail
    /// only skipped — and never appends (the journal stays closed). Throws <see cref="LeaseLedgerInUseException"/>
    /// while an agent has the journal open (it may change the ledger at any moment), and
    /// <see cref="InvalidDataException"/> naming the file when it cannot be read.
    /// </summary>
    public int LoadReadOnly()
    {
        lock (_gate)
        {
            ForgetLoaded();
            bool haveCheckpoint = File.Exists(Path);
            bool haveJournal = File.Exists(JournalPath);
            bool inUse;
            try
            {
                inUse = haveJournal && InUse(JournalPath);
            }
            catch (IOException ex)
            {
                // Not a regular file (a FIFO, device or link put there): it cannot be the ledger's journal.
                throw new InvalidDataException(ex.Message, ex);
            }

            if (inUse)
            {
                throw new LeaseLedgerInUseException(JournalPath);
            }

            string reading = Path;
            try
            {
                ReadLocked(haveCheckpoint, haveJournal, ref reading);
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
            {
                _leases.Clear();
                _ended.Clear();
                throw new InvalidDataException($"{reading}: {ex.Message}", ex);
            }

            return _leases.Count;
        }
    }

    /// <summary>Closes the journal (the agent's shutdown); a change after this writes the whole checkpoint.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _journal?.Dispose();
            _journal = null;
            ReleaseOwnerLock();
        }
    }

    /// <summary>
    /// Fills the ledger from the checkpoint and the journal replayed over it (when the journal continues that
    /// checkpoint); returns what the journal held. Throws on anything unreadable, naming it in <paramref name="reading"/>.
    /// </summary>
    private LeaseJournal.Contents? ReadLocked(bool haveCheckpoint, bool haveJournal, ref string reading)
    {
        _generation = 0;
        LeaseJournal.Contents? journal = null;
        if (haveCheckpoint)
        {
            Wire.LeaseLedgerCheckpoint checkpoint = LeaseCheckpoint.Decode(ReadShared(Path));
            foreach (Wire.Lease m in checkpoint.Leases)
            {
                Entry e = FromWire(m);
                if (!_leases.TryAdd(e.Lease.Id, e))
                {
                    throw new InvalidDataException($"lease \"{e.Lease.Id}\" appears twice");
                }

                if (!e.Holds)
                {
                    _ended.Add(e.Lease.Id);
                }
            }

            _generation = checkpoint.JournalGeneration;
        }

        if (haveJournal)
        {
            reading = JournalPath;
            journal = LeaseJournal.Parse(ReadShared(JournalPath));
            if (journal.Generation > _generation)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"journal generation {journal.Generation} is newer than the checkpoint's ({_generation}): the checkpoint it continues is missing or older"));
            }

            if (journal.Generation == _generation)
            {
                foreach (Wire.LeaseLedgerJournalRecord record in journal.Records)
                {
                    Replay(record);
                }
            }
        }

        return journal;
    }

    /// <summary>
    /// Reads a whole ledger file, as a regular file of at most <see cref="MaxFileBytes"/> (<see cref="BoundedFile"/>,
    /// links not followed: opened non-blocking, so a FIFO, device or symbolic link put there is refused naming it
    /// (<see cref="BoundedFileException"/>, an <see cref="IOException"/>) instead of hanging or filling memory at
    /// start; a missing file is <see cref="FileNotFoundException"/>). Takes no advisory lock, so the offline profile
    /// command's <see cref="InUse"/> probe never gets in the way.
    /// </summary>
    private static byte[] ReadShared(string path) => ReadRegular(path, MaxFileBytes);

    private static byte[] ReadRegular(string path, int maxBytes) =>
        BoundedFile.ReadBytes(path, maxBytes, followLinks: false) ?? throw new FileNotFoundException($"{path}: does not exist", path);

    /// <summary>
    /// The largest checkpoint or journal read: the journal compacts at <see cref="CompactAfterBytes"/> (4 MiB) and a
    /// checkpoint of the ~260 records kept is well under that; 64 MiB leaves room for large records and bounds what
    /// a doctored file can make start-up allocate.
    /// </summary>
    internal const int MaxFileBytes = 64 << 20;

    /// <summary>
    /// True while another open file description holds an advisory lock on <paramref name="path"/> that excludes an
    /// exclusive one: the agent's journal is open for appending with a shared lock (.NET's FileShare.Read), so an
    /// exclusive try fails while the agent runs. The exclusive lock is let go at once. Probed with flock(2) directly
    /// (<see cref="FileLock"/>: the probing process's DOTNET_SYSTEM_IO_DISABLEFILELOCKING cannot make it answer "not in
    /// use"), on a file opened O_NONBLOCK|O_NOFOLLOW: a FIFO, device or link there is refused with
    /// <see cref="IOException"/> naming it, never waited on.
    /// </summary>
    private static bool InUse(string path)
    {
        using FileLock? probe = FileLock.Open(path, create: false);
        return probe is not null && !probe.TryLock(exclusive: true);
    }

    /// <summary>
    /// Stores one change (its frames) durably: one append to the journal, or, when the journal may not be trusted,
    /// a whole checkpoint (which holds the change). Throws when the change is not on disk.
    /// </summary>
    private void StoreLocked(params ReadOnlySpan<byte[]> frames)
    {
        if (_journal is null)
        {
            CompactLocked();
            return;
        }

        byte[] bytes = frames.Length == 1 ? frames[0] : Concat(frames);
        try
        {
            _journal.Append(bytes, frames.Length);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _journal.Dispose();
            _journal = null;
            throw;
        }

        if (_journal.Records >= CompactAfterRecords || _journal.Length >= CompactAfterBytes)
        {
            try
            {
                CompactLocked();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The change itself is durable in the journal; only the compaction waits for the next change.
                LogCompactionFailed(_logger, Path, ex.Message);
            }
        }
    }

    /// <summary>
    /// Writes every record to the checkpoint under a new journal generation, then empties the journal as that
    /// generation. Throws when the checkpoint write fails (nothing is on disk for sure); a failure to empty the
    /// journal afterwards is only logged, since the checkpoint already holds everything.
    /// </summary>
    private void CompactLocked()
    {
        _journal?.Dispose();
        _journal = null;

        // Bumped before the write: if the write fails after its rename, the on-disk generation may be this one, and
        // the next attempt must name a later one still.
        ulong generation = ++_generation;
        LeaseCheckpoint.Write(_directory, LeaseCheckpoint.Encode(_leases.Values.Select(Encoded), generation));
        try
        {
            _journal = LeaseJournal.Reset(_directory, generation);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogCompactionFailed(_logger, JournalPath, ex.Message);
        }
    }

    private void Replay(Wire.LeaseLedgerJournalRecord record)
    {
        if (record.ChangeCase == Wire.LeaseLedgerJournalRecord.ChangeOneofCase.Put)
        {
            Entry e = FromWire(record.Put);
            _leases[e.Lease.Id] = e;
            if (e.Holds)
            {
                _ended.Remove(e.Lease.Id);
            }
            else if (!_ended.Contains(e.Lease.Id))
            {
                _ended.Add(e.Lease.Id);
            }
        }
        else
        {
            _leases.Remove(record.Remove);
            _ended.Remove(record.Remove);
        }
    }

    /// <summary>Fills the ledger from the checkpoint alone (its journal set aside); false when it does not read either.</summary>
    private bool ReadCheckpointAlone()
    {
        string reading = Path;
        try
        {
            ReadLocked(haveCheckpoint: true, haveJournal: false, ref reading);
            return true;
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
        {
            _leases.Clear();
            _ended.Clear();
            _generation = 0;
            return false;
        }
    }

    /// <summary>
    /// Records durably that something was set aside, in <see cref="AcknowledgePath"/> (one line per set-aside):
    /// grants stay refused until an operator deletes it (see <see cref="Unacknowledged"/>). A marker that cannot be
    /// written keeps grants refused for this process's life.
    /// </summary>
    private void MarkUnacknowledged()
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"{_time.GetUtcNow():u} set aside as unreadable: {SetAsideNames}\n");
        try
        {
            File.AppendAllText(AcknowledgePath, line);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _unacknowledgedInMemory = $"{SetAsideNames} was set aside as unreadable at start ({AcknowledgePath} could not be written: {ex.Message})";
        }
    }

    /// <summary>
    /// Why grants are refused: something was set aside (now or at an earlier start) and no operator has acknowledged
    /// it yet by deleting <see cref="AcknowledgePath"/>; null when nothing waits. One stat per call (per grant).
    /// </summary>
    public string? Unacknowledged()
    {
        string? what = _unacknowledgedInMemory;
        if (what is null && File.Exists(AcknowledgePath))
        {
            what = ReadMarker() is { Length: > 0 } text ? text : "files were set aside";
        }

        return what is null ? null :
            $"the lease ledger was damaged ({what}); leases it recorded may not be reserved now. Compare running VMs and devices on vfio-pci with 'aifactoryctl lease show --all' and the set-aside file(s), then delete {AcknowledgePath} to allow grants again";
    }

    private string? ReadMarker()
    {
        try
        {
            return System.Text.Encoding.UTF8.GetString(ReadRegular(AcknowledgePath, MarkerLimit)).Trim().ReplaceLineEndings("; ");
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void SetAside(bool haveCheckpoint, bool haveJournal)
    {
        string stamp = ".corrupt-" + _time.GetUtcNow().ToString("yyyyMMddTHHmmssfffZ", CultureInfo.InvariantCulture);
        List<string> moved = [];
        foreach ((string path, bool present) in (ReadOnlySpan<(string, bool)>)[(Path, haveCheckpoint), (JournalPath, haveJournal)])
        {
            if (present)
            {
                File.Move(path, path + stamp);
                moved.Add(path + stamp);
            }
        }

        SetAsidePath = moved[0];
        SetAsideNames = string.Join(" and ", moved);
    }

    private static byte[] Concat(ReadOnlySpan<byte[]> frames)
    {
        int length = 0;
        foreach (byte[] frame in frames)
        {
            length += frame.Length;
        }

        var bytes = new byte[length];
        int at = 0;
        foreach (byte[] frame in frames)
        {
            frame.CopyTo(bytes, at);
            at += frame.Length;
        }

        return bytes;
    }

    private ByteString Encoded(Entry e) => _encoded.GetValue(e, static x => x.ToWire().ToByteString());

    private byte[] PutFrame(Entry e) => LeaseJournal.Frame(LeaseJournal.PutPayload(Encoded(e)));

    private static byte[] RemoveFrame(string id) => LeaseJournal.Frame(LeaseJournal.RemovePayload(id));

    private static Entry FromWire(Wire.Lease m) =>
        new(LeaseMessages.FromWire(m), m.Spec, m.EndedUnixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(m.EndedUnixMs), m.NotRestored.Count == 0 ? null : [.. m.NotRestored]);

    /// <summary>Closes the journal and forgets what was loaded, before a (re)load. Called under <c>_gate</c>.</summary>
    private void ForgetLoaded()
    {
        _journal?.Dispose();
        _journal = null;
        _leases.Clear();
        _ended.Clear();
        SetAsidePath = null;
        SetAsideNames = null;
        SetAsideKeptCheckpoint = false;
    }
}
