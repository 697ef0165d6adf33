using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using AiFactory.Host.Hardware.Configure;
using Google.Protobuf;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Leases.Store;

/// <summary>
/// The ledger's journal: <c>leases.journal</c> beside <c>leases.checkpoint</c> in the state dir. One header line
/// <c>aifactory-leases-journal v1 generation=&lt;20 digits&gt;</c>, then records, each framed as a little-endian
/// uint32 payload length, a little-endian uint32 CRC-32C of those four length bytes and the payload, and the payload:
/// one binary <c>LeaseLedgerJournalRecord</c> ("put this whole lease record" or "remove this lease id"). A change is one
/// <c>write(2)</c> of its frames at the end of the file followed by <c>fdatasync(2)</c>, so it costs one durable
/// append instead of a whole-checkpoint rewrite; records are idempotent, so replaying one the checkpoint already holds
/// changes nothing. The generation ties the journal to the checkpoint it continues: each compaction writes a checkpoint
/// naming a new generation and only then empties the journal under that generation, so a journal whose generation
/// is older than the checkpoint's is already contained in it and is skipped, never replayed over newer state.
/// </summary>
/// <remarks>
/// Reading tells a torn tail from corruption. A crash in the middle of an append can leave the last frame short, or
/// the file longer than what reached the disk (ext4 can show such a tail as zeros): that append was never
/// acknowledged, so <see cref="Parse"/> reports where the good records end and the ledger truncates there. A last
/// frame that fails its checksum counts as torn too: a partly written append looks like that, and it cannot be told
/// from damage to the last acknowledged record (etcd repairs its WAL's tail the same way). A frame that fails its
/// checksum with more records after it, a length beyond <see cref="MaxRecordBytes"/>, a payload that does not parse,
/// or a bad header is corruption: acknowledged changes may be lost, so the ledger sets the files aside loudly instead
/// of guessing.
/// </remarks>
internal sealed class LeaseJournal : IDisposable
{
    /// <summary>The file name in the state dir.</summary>
    public const string FileName = "leases.journal";

    /// <summary>The format this agent writes and reads.</summary>
    public const uint Version = 1;

    /// <summary>Bytes before each payload: its length and its checksum.</summary>
    public const int FrameHeaderBytes = 8;

    /// <summary>No record is this large (one lease is a few KB); a length beyond it is a damaged frame, not a torn one.</summary>
    public const int MaxRecordBytes = 16 << 20;

    private const string Magic = "aifactory-leases-journal";

    private readonly FileStream _stream;

    private LeaseJournal(FileStream stream, long length)
    {
        _stream = stream;
        Length = length;
    }

    /// <summary>The header's length: every journal header is the same size (the generation has 20 digits).</summary>
    public static int HeaderBytes { get; } = Header(0).Length;

    /// <summary>The file's length: where the next append goes.</summary>
    public long Length { get; private set; }

    /// <summary>Records appended since the journal was last emptied (this process's view; replayed ones counted at open).</summary>
    public int Records { get; private set; }

    /// <summary>The header line of a journal of <paramref name="generation"/>.</summary>
    public static byte[] Header(ulong generation) =>
        Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Magic} v{Version} generation={generation:D20}\n"));

    /// <summary>
    /// Creates or empties the journal durably as <paramref name="generation"/>: truncated to nothing, the header
    /// written, fsync'd, and the directory fsync'd (the file may be new). A crash part-way leaves an empty file or a
    /// short header, which reads as an empty journal.
    /// </summary>
    public static LeaseJournal Reset(string directory, ulong generation)
    {
        string path = Path.Combine(directory, FileName);
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 0, FileOptions.None);
        try
        {
            stream.SetLength(0);
            stream.Write(Header(generation));
            stream.Flush(flushToDisk: true);
            DurableFile.SyncDirectory(directory);
            return new LeaseJournal(stream, HeaderBytes);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the journal for appending after its good records (<paramref name="validLength"/>, what <see cref="Parse"/>
    /// found), cutting a torn tail off durably first.
    /// </summary>
    public static LeaseJournal Open(string directory, long validLength, int records)
    {
        var stream = new FileStream(Path.Combine(directory, FileName), FileMode.Open, FileAccess.ReadWrite, FileShare.Read, 0, FileOptions.None);
        try
        {
            if (stream.Length != validLength)
            {
                stream.SetLength(validLength);
                stream.Flush(flushToDisk: true);
            }

            stream.Position = validLength;
            return new LeaseJournal(stream, validLength) { Records = records };
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends <paramref name="frames"/> (one or more <see cref="Frame"/>s, <paramref name="count"/> records) with one
    /// write and makes them durable with fdatasync before returning. On failure the file is cut back to where it was,
    /// as far as possible; the caller must not trust the journal again before rewriting the checkpoint.
    /// </summary>
    public void Append(ReadOnlySpan<byte> frames, int count)
    {
        long before = Length;
        try
        {
            _stream.Position = before;
            _stream.Write(frames);
            DurableFile.SyncData(_stream.SafeFileHandle, _stream.Name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try
            {
                _stream.SetLength(before);
            }
            catch (Exception cut) when (cut is IOException or UnauthorizedAccessException)
            {
            }

            throw;
        }

        Length = before + frames.Length;
        Records += count;
    }

    /// <summary>One record's frame: length, CRC-32C of length and payload, payload.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameHeaderBytes + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(FrameHeaderBytes));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), Checksum(frame.AsSpan(0, 4), payload));
        return frame;
    }

    /// <summary>The payload of a "put" record for a lease already encoded (the bytes <c>LeaseLedgerJournalRecord{put}</c> has).</summary>
    public static byte[] PutPayload(ByteString lease)
    {
        var payload = new byte[CodedOutputStream.ComputeTagSize(Wire.LeaseLedgerJournalRecord.PutFieldNumber) + CodedOutputStream.ComputeBytesSize(lease)];
        var output = new CodedOutputStream(payload);
        output.WriteTag(Wire.LeaseLedgerJournalRecord.PutFieldNumber, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(lease);
        output.CheckNoSpaceLeft();
        return payload;
    }

    /// <summary>The payload of a "remove" record.</summary>
    public static byte[] RemovePayload(string id) => new Wire.LeaseLedgerJournalRecord { Remove = id }.ToByteArray();

    /// <summary>
    /// Parses the file's bytes: the records in order, where the good part ends, and why the rest (if any) is a torn
    /// tail to cut off. Throws <see cref="InvalidDataException"/> naming the offset when the file is corrupt.
    /// </summary>
    public static Contents Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderBytes && !bytes.Contains((byte)'\n') && IsHeaderPrefix(bytes))
        {
            // Empty, or a header cut short by a crash while the journal was being created or emptied: no records.
            return new Contents(null, [], 0, bytes.IsEmpty ? null : string.Create(CultureInfo.InvariantCulture, $"a header cut short ({bytes.Length} of {HeaderBytes} bytes)"));
        }

        ulong generation = ParseHeader(bytes);
        var records = new List<Wire.LeaseLedgerJournalRecord>();
        int offset = HeaderBytes;
        while (offset < bytes.Length)
        {
            ReadOnlySpan<byte> rest = bytes[offset..];
            if (rest.Length < FrameHeaderBytes)
            {
                return new(generation, records, offset, string.Create(CultureInfo.InvariantCulture, $"an incomplete record at offset {offset} ({rest.Length} bytes, no whole frame header)"));
            }

            uint length = BinaryPrimitives.ReadUInt32LittleEndian(rest);
            if (length > MaxRecordBytes)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"record at offset {offset} claims {length} bytes (more than {MaxRecordBytes})"));
            }

            if (rest.Length < FrameHeaderBytes + length)
            {
                return new(generation, records, offset, string.Create(CultureInfo.InvariantCulture, $"an incomplete record at offset {offset} ({rest.Length} of {FrameHeaderBytes + length} bytes)"));
            }

            ReadOnlySpan<byte> payload = rest.Slice(FrameHeaderBytes, (int)length);
            uint expected = BinaryPrimitives.ReadUInt32LittleEndian(rest[4..]);
            uint actual = Checksum(rest[..4], payload);
            int next = offset + FrameHeaderBytes + (int)length;
            if (actual != expected)
            {
                if (next == bytes.Length || IsZeros(rest))
                {
                    return new(generation, records, offset, string.Create(CultureInfo.InvariantCulture, $"the last record at offset {offset} failing its checksum"));
                }

                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"record at offset {offset} fails its checksum (crc32c {actual:x8}, frame says {expected:x8}) and {bytes.Length - next} bytes follow it"));
            }

            Wire.LeaseLedgerJournalRecord record;
            try
            {
                record = Wire.LeaseLedgerJournalRecord.Parser.ParseFrom(payload);
            }
            catch (InvalidProtocolBufferException ex)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"record at offset {offset} does not parse: {ex.Message}"), ex);
            }

            if (record.ChangeCase == Wire.LeaseLedgerJournalRecord.ChangeOneofCase.None)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"record at offset {offset} is neither a put nor a remove"));
            }

            records.Add(record);
            offset = next;
        }

        return new Contents(generation, records, offset, null);
    }

    /// <summary>CRC-32C (Castagnoli), as iSCSI, ext4 and etcd's WAL use: hardware-accelerated where the CPU has it.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> bytes) => ~Accumulate(uint.MaxValue, bytes);

    public void Dispose() => _stream.Dispose();

    private static uint Checksum(ReadOnlySpan<byte> length, ReadOnlySpan<byte> payload) => ~Accumulate(Accumulate(uint.MaxValue, length), payload);

    private static uint Accumulate(uint crc, ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            bytes = bytes[8..];
        }

        foreach (byte b in bytes)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }

    private static bool IsZeros(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);

    private static bool IsHeaderPrefix(ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<byte> fixedPart = Header(0).AsSpan(0, HeaderBytes - 21);
        int common = Math.Min(bytes.Length, fixedPart.Length);
        return bytes[..common].SequenceEqual(fixedPart[..common]) && !bytes[common..].ContainsAnyExceptInRange((byte)'0', (byte)'9');
    }

    private static ulong ParseHeader(ReadOnlySpan<byte> bytes)
    {
        int newline = bytes[..Math.Min(bytes.Length, 200)].IndexOf((byte)'\n');
        string line = newline < 0 ? "(no header line)" : Encoding.ASCII.GetString(bytes[..newline]);
        string[] parts = line.Split(' ');
        if (parts.Length == 3 && parts[0] == Magic && parts[1].StartsWith('v')
            && uint.TryParse(parts[1].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out uint version))
        {
            if (version != Version)
            {
                string hint = version > Version ? " (written by a newer agent: upgrade the agent, or remove the file)" : string.Empty;
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"format v{version}, this agent reads v{Version}{hint}"));
            }

            if (newline + 1 == HeaderBytes && parts[2].StartsWith("generation=", StringComparison.Ordinal)
                && ulong.TryParse(parts[2].AsSpan("generation=".Length), NumberStyles.None, CultureInfo.InvariantCulture, out ulong generation))
            {
                return generation;
            }
        }

        throw new InvalidDataException($"bad header \"{line}\" (expected \"{Magic} v{Version} generation=<20 digits>\")");
    }

    /// <summary>What <see cref="Parse"/> found.</summary>
    /// <param name="Generation">The header's generation, or null for an empty file or a header cut short.</param>
    /// <param name="Records">The good records, in the order they were appended.</param>
    /// <param name="ValidLength">Where the good part ends (0 for an empty or headerless file).</param>
    /// <param name="TornTail">Why the bytes after <paramref name="ValidLength"/> are a torn append, or null when there are none.</param>
    internal sealed record Contents(ulong? Generation, IReadOnlyList<Wire.LeaseLedgerJournalRecord> Records, long ValidLength, string? TornTail);
}
