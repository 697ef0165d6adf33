namespace GrpcLoad;

/// <summary>
/// Decodes HPACK's Huffman-coded string literals (RFC 7541 §5.2, code in Appendix B). The code is canonical
/// (codes of one length are consecutive in symbol order, shorter codes first), so it is rebuilt here from the code
/// length of each of the 257 symbols alone; <see cref="CodeLengths"/> is the "len" column of Appendix B.
/// </summary>
internal static class HpackHuffman
{
    private const int Eos = 256;
    private const int MaxLength = 30;

    /// <summary>RFC 7541 Appendix B, bit length of the code of symbols 0..255 and EOS (256).</summary>
    private static readonly byte[] CodeLengths =
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ];

    // Canonical decoding: the codes of length n are FirstCode[n] .. FirstCode[n] + Count[n] - 1 and stand for the
    // symbols Symbols[FirstIndex[n] ..] in that order.
    private static readonly int[] Count = new int[MaxLength + 1];
    private static readonly long[] FirstCode = new long[MaxLength + 1];
    private static readonly int[] FirstIndex = new int[MaxLength + 1];
    private static readonly short[] Symbols = new short[257];

    static HpackHuffman()
    {
        foreach (byte length in CodeLengths)
        {
            Count[length]++;
        }

        long code = 0;
        int index = 0;
        for (int n = 1; n <= MaxLength; n++)
        {
            FirstCode[n] = code;
            FirstIndex[n] = index;
            index += Count[n];
            code = (code + Count[n]) << 1;
        }

        int[] next = (int[])FirstIndex.Clone();
        for (int symbol = 0; symbol < CodeLengths.Length; symbol++)
        {
            Symbols[next[CodeLengths[symbol]]++] = (short)symbol;
        }
    }

    /// <summary>
    /// Decodes <paramref name="encoded"/> into <paramref name="output"/>; returns the decoded length, or null (with
    /// <paramref name="error"/>) for an EOS symbol, padding longer than 7 bits or not all ones, or too small an output.
    /// </summary>
    public static int? Decode(ReadOnlySpan<byte> encoded, Span<byte> output, out string? error)
    {
        long code = 0;
        int length = 0;
        int written = 0;
        foreach (byte b in encoded)
        {
            for (int bit = 7; bit >= 0; bit--)
            {
                code = (code << 1) | (uint)((b >> bit) & 1);
                length++;
                long offset = code - FirstCode[length];
                if (offset >= 0 && offset < Count[length])
                {
                    int symbol = Symbols[FirstIndex[length] + (int)offset];
                    if (symbol == Eos)
                    {
                        error = "HPACK Huffman string contains EOS";
                        return null;
                    }

                    if (written == output.Length)
                    {
                        error = "HPACK Huffman string longer than " + output.Length + " bytes";
                        return null;
                    }

                    output[written++] = (byte)symbol;
                    code = 0;
                    length = 0;
                }
                else if (length == MaxLength)
                {
                    error = "HPACK Huffman string holds an invalid code";
                    return null;
                }
            }
        }

        // Padding: the most significant bits of EOS (all ones), fewer than 8.
        if (length > 7 || code != (1L << length) - 1)
        {
            error = "HPACK Huffman string has invalid padding";
            return null;
        }

        error = null;
        return written;
    }
}
