using System.Text;

namespace GrpcLoad;

/// <summary>
/// The HPACK header block of a gRPC unary request, encoded once (RFC 7541): indexed static fields for
/// <c>:method POST</c> and <c>:scheme http</c>, and literals without indexing (static name index where there is
/// one) and without Huffman coding for the rest, so that the server's decoder table never changes.
/// </summary>
internal static class HpackRequestBlock
{
    private const int StaticMethodPost = 3;
    private const int StaticSchemeHttp = 6;
    private const int StaticAuthority = 1;
    private const int StaticPath = 4;
    private const int StaticContentType = 31;

    public static byte[] Encode(string path, string authority)
    {
        var block = new List<byte>(128);
        Indexed(block, StaticMethodPost);
        Indexed(block, StaticSchemeHttp);
        Literal(block, StaticPath, null, path);
        Literal(block, StaticAuthority, null, authority);
        Literal(block, StaticContentType, null, "application/grpc");
        Literal(block, 0, "te", "trailers");
        return [.. block];
    }

    private static void Indexed(List<byte> block, int index) => Integer(block, 0x80, 7, index);

    /// <summary>A literal header field without indexing (§6.2.2): 0000 + name index, or 0 and a literal name.</summary>
    private static void Literal(List<byte> block, int nameIndex, string? name, string value)
    {
        Integer(block, 0x00, 4, nameIndex);
        if (name is not null)
        {
            String(block, name);
        }

        String(block, value);
    }

    private static void String(List<byte> block, string text)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        Integer(block, 0x00, 7, bytes.Length); // H = 0: no Huffman coding
        block.AddRange(bytes);
    }

    /// <summary>An integer with an N-bit prefix (§5.1), the prefix's high bits set to <paramref name="flags"/>.</summary>
    private static void Integer(List<byte> block, byte flags, int prefixBits, int value)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max)
        {
            block.Add((byte)(flags | value));
            return;
        }

        block.Add((byte)(flags | max));
        value -= max;
        while (value >= 0x80)
        {
            block.Add((byte)((value & 0x7F) | 0x80));
            value >>= 7;
        }

        block.Add((byte)value);
    }
}
