using AiFactory.Grpc.Protocol;

namespace AiFactory.Grpc.Tests.Protocol;

public class GrpcMessageEncodingTests
{
    [Theory]
    [InlineData("plain ascii: a/b?c=d", "plain ascii: a/b?c=d")]
    [InlineData("100%", "100%25")]
    [InlineData("line\nbreak", "line%0Abreak")]
    [InlineData("tab\there", "tab%09here")]
    [InlineData("café", "caf%C3%A9")]
    [InlineData("GPU 0 — 温度", "GPU 0 %E2%80%94 %E6%B8%A9%E5%BA%A6")]
    [InlineData("emoji 🚀", "emoji %F0%9F%9A%80")]
    [InlineData("", "")]
    [InlineData("~ and space stay", "~ and space stay")]
    public void Encoding_escapes_exactly_the_bytes_outside_printable_ascii_and_percent(string message, string encoded)
    {
        Assert.Equal(encoded, GrpcMessageEncoding.Encode(message));
        Assert.Equal(message, GrpcMessageEncoding.Decode(encoded));
    }

    [Theory]
    [InlineData("50%", "50%")]
    [InlineData("%zz and %4", "%zz and %4")]
    [InlineData("%E2%82", "\uFFFD")]
    [InlineData("%c3%a9", "é")]
    public void Decoding_keeps_malformed_escapes_and_never_fails(string value, string decoded)
    {
        Assert.Equal(decoded, GrpcMessageEncoding.Decode(value));
    }

    [Fact]
    public void Every_byte_value_round_trips()
    {
        string all = new(Enumerable.Range(1, 0x2FF).Select(i => (char)i).ToArray());
        string encoded = GrpcMessageEncoding.Encode(all);
        Assert.All(encoded, c => Assert.InRange(c, (char)0x20, (char)0x7E));
        Assert.Equal(all, GrpcMessageEncoding.Decode(encoded));
    }

    [Theory]
    [InlineData("short", 12, "short")]
    [InlineData("exactly twelve", 14, "exactly twelve")]
    [InlineData("abcdefghijklmnop", 12, "abcdefghi…")]
    [InlineData("ééééééé", 12, "éééé…")]
    [InlineData("ab🚀🚀🚀", 12, "ab🚀…")]
    [InlineData("abcdefg🚀xy", 12, "abcdefg…")]
    public void Truncating_cuts_at_a_character_boundary_and_marks_the_cut(string message, int maxBytes, string expected)
    {
        string cut = GrpcMessageEncoding.Truncate(message, maxBytes);

        Assert.Equal(expected, cut);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(cut) <= maxBytes);
    }

    [Fact]
    public void Truncating_a_lone_surrogate_counts_it_as_the_replacement_character_the_encoder_writes()
    {
        string cut = GrpcMessageEncoding.Truncate(new string('\uD800', 10), 12);

        Assert.Equal("\uD800\uD800\uD800…", cut);
        Assert.Equal(12, System.Text.Encoding.UTF8.GetByteCount(cut));
    }

    [Fact]
    public void The_default_limit_is_one_kibibyte()
    {
        string cut = GrpcMessageEncoding.Truncate(new string('a', 4 * 1024 * 1024));

        Assert.Equal(1024, System.Text.Encoding.UTF8.GetByteCount(cut));
    }
}
