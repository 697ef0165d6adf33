using System.Text;

namespace GrpcLoad;

/// <summary>
/// A minimal HPACK decoder (RFC 7541) for response header blocks: integers, string literals (plain and Huffman),
/// the static table and dynamic table size updates. It keeps no dynamic table: the raw client announces
/// SETTINGS_HEADER_TABLE_SIZE = 0, so a server may not index; a block that refers to a dynamic-table entry is
/// reported as an error, never guessed. Not thread-safe: one per connection, used by its reader thread.
/// </summary>
internal sealed class HpackDecoder
{
    private const int ScratchSize = 16384;
    private readonly byte[] _nameScratch = new byte[ScratchSize];
    private readonly byte[] _valueScratch = new byte[ScratchSize];

    // The dynamic table size the encoder last announced, 4096 (the protocol default) until it sends an update.
    private long _maxTableSize = 4096;

    // Whether the encoder may hold entries we did not keep (it indexed a field while its table size was above 0).
    private bool _encoderIndexed;

    /// <summary>Decodes <paramref name="block"/> into <paramref name="fields"/>; returns null, or why it cannot.</summary>
    public string? Decode(ReadOnlySpan<byte> block, ref ResponseHeaderFields fields)
    {
        int pos = 0;
        while (pos < block.Length)
        {
            byte first = block[pos];
            if ((first & 0x80) != 0)
            {
                // Indexed field (§6.1).
                if (!ReadInteger(block, ref pos, 7, out long index) || index == 0)
                {
                    return "HPACK indexed field with a bad index";
                }

                if (index > HpackStaticTable.Count)
                {
                    return DynamicIndex(index);
                }

                (byte[] name, byte[] value) = HpackStaticTable.Get((int)index);
                Accept(name, value, ref fields);
            }
            else if ((first & 0xE0) == 0x20)
            {
                // Dynamic table size update (§6.3).
                if (!ReadInteger(block, ref pos, 5, out long size))
                {
                    return "HPACK truncated table size update";
                }

                _maxTableSize = size;
                if (size == 0)
                {
                    _encoderIndexed = false;
                }
            }
            else
            {
                // Literal field: with incremental indexing (01, 6-bit prefix), without indexing (0000) or never
                // indexed (0001), both with a 4-bit prefix (§6.2).
                bool indexing = (first & 0xC0) == 0x40;
                if (!ReadInteger(block, ref pos, indexing ? 6 : 4, out long nameIndex))
                {
                    return "HPACK truncated literal field";
                }

                ReadOnlySpan<byte> name;
                if (nameIndex == 0)
                {
                    string? nameError = ReadString(block, ref pos, _nameScratch, out name);
                    if (nameError is not null)
                    {
                        return nameError;
                    }
                }
                else if (nameIndex > HpackStaticTable.Count)
                {
                    return DynamicIndex(nameIndex);
                }
                else
                {
                    name = HpackStaticTable.Get((int)nameIndex).Name;
                }

                string? valueError = ReadString(block, ref pos, _valueScratch, out ReadOnlySpan<byte> value);
                if (valueError is not null)
                {
                    return valueError;
                }

                // An entry larger than the table empties it (§4.4): with a table size of 0 nothing is kept.
                if (indexing && name.Length + value.Length + 32 <= _maxTableSize)
                {
                    _encoderIndexed = true;
                }

                Accept(name, value, ref fields);
            }
        }

        return null;
    }

    private string DynamicIndex(long index) =>
        $"HPACK dynamic table index {index} (table size {_maxTableSize}{(_encoderIndexed ? ", the server indexed fields" : string.Empty)}): " +
        "not supported by this client, which sets SETTINGS_HEADER_TABLE_SIZE=0";

    private static void Accept(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ref ResponseHeaderFields fields)
    {
        if (name.SequenceEqual(":status"u8))
        {
            fields.Status = ParseNumber(value);
        }
        else if (name.SequenceEqual("grpc-status"u8))
        {
            fields.GrpcStatus = ParseNumber(value);
        }
        else if (name.SequenceEqual("grpc-message"u8))
        {
            fields.GrpcMessage = Encoding.ASCII.GetString(value);
        }
    }

    /// <summary>A decimal number of 1..9 digits, or -1.</summary>
    private static int ParseNumber(ReadOnlySpan<byte> value)
    {
        if (value.Length is 0 or > 9)
        {
            return -1;
        }

        int n = 0;
        foreach (byte b in value)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return -1;
            }

            n = (n * 10) + (b - '0');
        }

        return n;
    }

    /// <summary>An integer with an N-bit prefix (§5.1); false when truncated or over 2^31.</summary>
    private static bool ReadInteger(ReadOnlySpan<byte> block, ref int pos, int prefixBits, out long value)
    {
        int max = (1 << prefixBits) - 1;
        value = block[pos++] & max;
        if (value < max)
        {
            return true;
        }

        for (int shift = 0; ; shift += 7)
        {
            if (pos == block.Length || shift > 28)
            {
                return false;
            }

            byte b = block[pos++];
            value += (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value <= int.MaxValue;
            }
        }
    }

    /// <summary>A string literal (§5.2), plain or Huffman-coded (decoded into <paramref name="scratch"/>).</summary>
    private static string? ReadString(ReadOnlySpan<byte> block, scoped ref int pos, byte[] scratch, out ReadOnlySpan<byte> text)
    {
        text = default;
        if (pos == block.Length)
        {
            return "HPACK truncated string literal";
        }

        bool huffman = (block[pos] & 0x80) != 0;
        if (!ReadInteger(block, ref pos, 7, out long length) || length > block.Length - pos)
        {
            return "HPACK string literal longer than its header block";
        }

        ReadOnlySpan<byte> raw = block.Slice(pos, (int)length);
        pos += (int)length;
        if (!huffman)
        {
            text = raw;
            return null;
        }

        int? decoded = HpackHuffman.Decode(raw, scratch, out string? error);
        if (decoded is null)
        {
            return error;
        }

        text = scratch.AsSpan(0, decoded.Value);
        return null;
    }
}
