using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Tests.Pci;

public sealed class PciAddressTests
{
    [Theory]
    [InlineData("0000:41:00.0", 0x0000)]
    [InlineData("10000:01:00.0", 0x10000)]
    [InlineData("1000f:e1:1f.7", 0x1000f)]
    [InlineData("7fffffff:00:00.0", 0x7fffffff)]
    public void An_address_with_a_4_to_8_digit_domain_parses_and_prints_back_the_same(string text, int domain)
    {
        PciAddress a = PciAddress.Parse(text);

        Assert.Equal(domain, a.Domain);
        Assert.Equal(text, a.ToString());
    }

    [Theory]
    [InlineData("000:41:00.0")]
    [InlineData("80000000:00:00.0")]
    [InlineData("100000000:00:00.0")]
    [InlineData("1000g:01:00.0")]
    [InlineData("10000-01:00.0")]
    [InlineData("../../00.0")]
    public void Anything_else_is_refused(string text) => Assert.False(PciAddress.TryParse(text, out _));

    [Fact]
    public void A_vmd_domain_sorts_after_domain_0()
    {
        PciAddress[] sorted = [PciAddress.Parse("10000:01:00.0"), PciAddress.Parse("0000:ff:1f.7"), PciAddress.Parse("0001:00:00.0")];

        Array.Sort(sorted);

        Assert.Equal(["0000:ff:1f.7", "0001:00:00.0", "10000:01:00.0"], sorted.Select(a => a.ToString()));
    }

    [Fact]
    public void A_vmd_domain_round_trips_through_the_nvml_bus_id()
    {
        PciAddress a = PciAddress.Parse("10000:01:00.0");

        Assert.Equal("00010000:01:00.0", a.ToNvmlBusId());
        Assert.True(PciAddress.TryParseNvmlBusId(a.ToNvmlBusId(), out PciAddress back));
        Assert.Equal(a, back);
    }
}
