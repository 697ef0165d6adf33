using AiFactory.Grpc.Protocol;

namespace AiFactory.Grpc.Tests.Protocol;

public class GrpcTimeoutTests
{
    public static TheoryData<string, TimeSpan> Valid => new()
    {
        { "1H", TimeSpan.FromHours(1) },
        { "2M", TimeSpan.FromMinutes(2) },
        { "30S", TimeSpan.FromSeconds(30) },
        { "100m", TimeSpan.FromMilliseconds(100) },
        { "250u", TimeSpan.FromTicks(2500) },
        { "1000n", TimeSpan.FromTicks(10) },
        { "0m", TimeSpan.Zero },
        { "99999999S", TimeSpan.FromSeconds(99_999_999) },
        { "00000005S", TimeSpan.FromSeconds(5) },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Valid_values_parse_to_their_duration(string value, TimeSpan expected)
    {
        Assert.True(GrpcTimeout.TryParse(value, out TimeSpan timeout));
        Assert.Equal(expected, timeout);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10s")]
    [InlineData("10x")]
    [InlineData("-1S")]
    [InlineData("+1S")]
    [InlineData(" 1S")]
    [InlineData("1.5S")]
    [InlineData("123456789S")]
    [InlineData("１S")]
    public void Malformed_values_are_refused(string? value)
    {
        Assert.False(GrpcTimeout.TryParse(value, out _));
    }

    [Fact]
    public void The_largest_value_parses_without_overflow()
    {
        Assert.True(GrpcTimeout.TryParse("99999999H", out TimeSpan timeout));
        Assert.Equal(TimeSpan.FromHours(99_999_999), timeout);
    }

    [Theory]
    [InlineData(0, "1n")]
    [InlineData(-5, "1n")]
    public void Zero_or_negative_timeouts_format_as_the_smallest_positive_one(long ticks, string expected)
    {
        Assert.Equal(expected, GrpcTimeout.Format(TimeSpan.FromTicks(ticks)));
    }

    [Theory]
    [InlineData("00:00:00.0000010", "1000n")]
    [InlineData("00:00:00.5", "500000u")]
    [InlineData("00:00:05", "5000000u")]
    [InlineData("00:10:00", "600000m")]
    [InlineData("3.00:00:00", "259200S")]
    public void Formatting_keeps_eight_digits_with_the_finest_unit(string span, string expected)
    {
        Assert.Equal(expected, GrpcTimeout.Format(TimeSpan.Parse(span, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(123_456L)]
    [InlineData(9_999_999L)]
    [InlineData(36_000_000_000L)]
    [InlineData(864_000_000_000_000L)]
    public void Formatted_values_parse_back_within_one_unit(long ticks)
    {
        var timeout = TimeSpan.FromTicks(ticks);
        string formatted = GrpcTimeout.Format(timeout);
        Assert.InRange(formatted.Length, 2, 9);
        Assert.True(GrpcTimeout.TryParse(formatted, out TimeSpan parsed));
        Assert.InRange(timeout - parsed, TimeSpan.Zero, TimeSpan.FromHours(1));
        Assert.True(parsed <= timeout);
    }

    [Fact]
    public void TimeSpan_MaxValue_formats_as_the_largest_header_value()
    {
        string formatted = GrpcTimeout.Format(TimeSpan.MaxValue);
        Assert.True(GrpcTimeout.TryParse(formatted, out _));
        Assert.EndsWith("H", formatted);
    }
}
