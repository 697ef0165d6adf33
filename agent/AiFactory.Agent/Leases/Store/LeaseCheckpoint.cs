using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AiFactory.Host.Hardware.Configure;
using Google.Protobuf;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Leases.Store;

/// <summary>
/// The ledger's file: <c>leases.checkpoint</c> in the state dir. One header line
/// <c>aifactory-leases v1 sha256=&lt;hex&gt;</c>, then the binary <c>LeaseLedgerCheckpoint</c> message. The checksum covers
/// exactly the message bytes (canonical: Google.Protobuf writes fields in number order, and the message has no
/// maps). Written temp → fsync → rename → fsync(dir), as kubelet's state_checkpoint, so a crash leaves either the
/// old file or the new one, never a torn one.
/// </summary>
/// <remarks>
/// Why a checkpoint file and not SQLite: the ledger is small (tens to hundreds of leases), the planner needs all of
/// it in memory anyway, and every change is a whole-ledger snapshot under one lock, so a single atomic file is the
/// simplest thing that is crash-safe. It adds no native library to ship or load beside the AOT binary, and an
/// operator can set a bad file aside with <c>mv</c>. SQLite's strengths (queries, partial updates, concurrent
/// writers) are not needed by a single-writer daemon.
/// </remarks>
internal static class LeaseCheckpoint
{
    /// <summary>The file name in the state dir.</summary>
    public const string FileName = "leases.checkpoint";

    /// <summary>The format this agent writes and reads.</summary>
    public const uint Version = 1;

    private const string Magic = "aifactory-leases";

    /// <summary>The file's bytes for <paramref name="leases"/>.</summary>
    public static byte[] Encode(IEnumerable<Wire.Lease> leases) => Encode(leases.Select(l => l.ToByteString()));

    /// <summary>
    /// The file's bytes for leases already encoded one by one (the ledger keeps each record's bytes, so a change
    /// re-encodes one lease, not all of them). The body is byte for byte what <c>LeaseLedgerCheckpoint.ToByteArray</c>
    /// writes: field 1 (version), then each lease as field 2, length-delimited, in the order given, then field 3 (the
    /// journal generation that continues this checkpoint; left out when 0, as protobuf leaves a default out).
    /// </summary>
    public static byte[] Encode(IEnumerable<ByteString> encodedLeases, ulong journalGeneration = 0)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
        {
            output.WriteTag(Wire.LeaseLedgerCheckpoint.VersionFieldNumber, WireFormat.WireType.Varint);
            output.WriteUInt32(Version);
            foreach (ByteString lease in encodedLeases)
            {
                output.WriteTag(Wire.LeaseLedgerCheckpoint.LeasesFieldNumber, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(lease);
            }

            if (journalGeneration != 0)
            {
                output.WriteTag(Wire.LeaseLedgerCheckpoint.JournalGenerationFieldNumber, WireFormat.WireType.Varint);
                output.WriteUInt64(journalGeneration);
            }
        }

        ReadOnlySpan<byte> body = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        byte[] header = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Magic} v{Version} sha256={Convert.ToHexStringLower(SHA256.HashData(body))}\n"));
        return [.. header, .. body];
    }

    /// <summary>Parses the file's bytes; throws <see cref="InvalidDataException"/> saying what is wrong.</summary>
    public static Wire.LeaseLedgerCheckpoint Decode(ReadOnlySpan<byte> bytes)
    {
        int newline = bytes.IndexOf((byte)'\n');
        if (newline < 0 || newline > 200)
        {
            throw new InvalidDataException("no header line (expected \"aifactory-leases v1 sha256=...\")");
        }

        string header = Encoding.ASCII.GetString(bytes[..newline]);
        string[] parts = header.Split(' ');
        if (parts.Length != 3 || parts[0] != Magic || !parts[1].StartsWith('v') || !parts[2].StartsWith("sha256=", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"bad header \"{header}\"");
        }

        if (!uint.TryParse(parts[1].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out uint version))
        {
            throw new InvalidDataException($"bad version \"{parts[1]}\"");
        }

        if (version != Version)
        {
            string hint = version > Version ? " (written by a newer agent: upgrade the agent, or remove the file)" : string.Empty;
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"format v{version}, this agent reads v{Version}{hint}"));
        }

        ReadOnlySpan<byte> body = bytes[(newline + 1)..];
        string actual = Convert.ToHexStringLower(SHA256.HashData(body));
        string expected = parts[2]["sha256=".Length..];
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"checksum mismatch: header says sha256={expected}, content is sha256={actual}");
        }

        try
        {
            Wire.LeaseLedgerCheckpoint message = Wire.LeaseLedgerCheckpoint.Parser.ParseFrom(body);
            if (message.Version != version)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"header says v{version}, content says v{message.Version}"));
            }

            return message;
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"content does not parse: {ex.Message}", ex);
        }
    }

    /// <summary>Writes the file atomically and durably: temp, fsync, rename, fsync of the directory.</summary>
    public static void Write(string directory, byte[] bytes) => DurableFile.WriteAtomically(Path.Combine(directory, FileName), bytes);
}
