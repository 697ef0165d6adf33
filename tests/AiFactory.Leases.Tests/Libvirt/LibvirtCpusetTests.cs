using AiFactory.Agent.Leases;
using AiFactory.Host.Model.Cpu;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>A caller's cpuset is read as libvirt reads it: ids, ranges and <c>^N</c> exclusions, in order.</summary>
public sealed class LibvirtCpusetTests
{
    [Theory]
    [InlineData("3", "3")]
    [InlineData("0-7,^3", "0-2,4-7")]
    [InlineData("0-7, ^3 , 12", "0-2,4-7,12")]
    [InlineData("0-3,^0,^1,8-9", "2-3,8-9")]
    [InlineData("^3,0-7", "0-7")]
    [InlineData("0-7,^3,3", "0-7")]
    public void A_libvirt_cpuset_with_ranges_and_exclusions_gives_the_cpus_libvirt_would_pin(string text, string expected)
    {
        Assert.True(LibvirtCpuset.TryParse(text, out CpuSet? cpus, out string? error), error);
        Assert.Equal(CpuSet.Parse(expected), cpus);
    }

    [Theory]
    [InlineData("0-x", "cpuset \"0-x\" is not a libvirt CPU list: \"0-x\" is not a CPU id, a range N-M or an exclusion ^N (N in 0..8191)")]
    [InlineData("0-7,^x", "cpuset \"0-7,^x\" is not a libvirt CPU list: \"^x\" excludes no single CPU id (^N, N in 0..8191)")]
    [InlineData("0-7,^2-3", "cpuset \"0-7,^2-3\" is not a libvirt CPU list: \"^2-3\" excludes no single CPU id (^N, N in 0..8191)")]
    [InlineData("1,,2", "cpuset \"1,,2\" is not a libvirt CPU list: \"\" is not a CPU id, a range N-M or an exclusion ^N (N in 0..8191)")]
    [InlineData("7-3", "cpuset \"7-3\" is not a libvirt CPU list: \"7-3\" is not a CPU id, a range N-M or an exclusion ^N (N in 0..8191)")]
    [InlineData("-1", "cpuset \"-1\" is not a libvirt CPU list: \"-1\" is not a CPU id, a range N-M or an exclusion ^N (N in 0..8191)")]
    [InlineData("9000", "cpuset \"9000\" is not a libvirt CPU list: \"9000\" is not a CPU id, a range N-M or an exclusion ^N (N in 0..8191)")]
    [InlineData("", "cpuset \"\" is not a libvirt CPU list: \"\" is not a CPU id, a range N-M or an exclusion ^N (N in 0..8191)")]
    [InlineData("3,^3", "cpuset \"3,^3\" selects no CPU")]
    public void Anything_else_is_refused_naming_the_value_and_the_entry(string text, string expected)
    {
        Assert.False(LibvirtCpuset.TryParse(text, out _, out string? error));
        Assert.Equal(expected, error);
    }
}
