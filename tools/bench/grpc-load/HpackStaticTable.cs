using System.Text;

namespace GrpcLoad;

/// <summary>HPACK's static table (RFC 7541 Appendix A), entries 1..61, as ASCII bytes.</summary>
internal static class HpackStaticTable
{
    public const int Count = 61;

    private static readonly (byte[] Name, byte[] Value)[] Entries = Build(
    [
        ":authority", "", ":method", "GET", ":method", "POST", ":path", "/", ":path", "/index.html",
        ":scheme", "http", ":scheme", "https", ":status", "200", ":status", "204", ":status", "206",
        ":status", "304", ":status", "400", ":status", "404", ":status", "500", "accept-charset", "",
        "accept-encoding", "gzip, deflate", "accept-language", "", "accept-ranges", "", "accept", "", "access-control-allow-origin", "",
        "age", "", "allow", "", "authorization", "", "cache-control", "", "content-disposition", "",
        "content-encoding", "", "content-language", "", "content-length", "", "content-location", "", "content-range", "",
        "content-type", "", "cookie", "", "date", "", "etag", "", "expect", "",
        "expires", "", "from", "", "host", "", "if-match", "", "if-modified-since", "",
        "if-none-match", "", "if-range", "", "if-unmodified-since", "", "last-modified", "", "link", "",
        "location", "", "max-forwards", "", "proxy-authenticate", "", "proxy-authorization", "", "range", "",
        "referer", "", "refresh", "", "retry-after", "", "server", "", "set-cookie", "",
        "strict-transport-security", "", "transfer-encoding", "", "user-agent", "", "vary", "", "via", "",
        "www-authenticate", "",
    ]);

    /// <summary>Entry <paramref name="index"/> (1..61).</summary>
    public static (byte[] Name, byte[] Value) Get(int index) => Entries[index - 1];

    private static (byte[], byte[])[] Build(string[] pairs)
    {
        var entries = new (byte[], byte[])[pairs.Length / 2];
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = (Encoding.ASCII.GetBytes(pairs[2 * i]), Encoding.ASCII.GetBytes(pairs[(2 * i) + 1]));
        }

        return entries.Length == Count ? entries : throw new InvalidOperationException("HPACK static table must have 61 entries");
    }
}
