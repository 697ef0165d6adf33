using AiFactory.Agent.Leases;
using AiFactory.Host.Model.Cpu;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>The node profile's <c>cpus.reserved</c> as leases see it, across edits that do and do not parse.</summary>
public sealed class HostReservedCpusTests
{
    private const string Path = "/etc/aifactory/profile.yaml";
    private const string Good = "version: v1\ncpus:\n  reserved: 0,112\n";
    private const string Broken = "version: v1\ncpus:\n  reserved: 3-1\n";

    [Fact]
    public void A_profile_that_stops_parsing_keeps_the_last_reserved_set_and_says_so_once()
    {
        var logger = new RecordingLogger<HostReservedCpus>();
        var reserved = new HostReservedCpus(logger);

        reserved.Update((Good, Path));
        reserved.Update((Broken, Path));
        reserved.Update((Broken, Path));

        Assert.Equal(CpuSet.Parse("0,112"), reserved.Cpus);
        Assert.Null(reserved.Unknown);
        (LogLevel level, _, string message) = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Error, level);
        Assert.Contains(Path, message, StringComparison.Ordinal);
        Assert.Contains("cpus.reserved", message, StringComparison.Ordinal);
        Assert.Contains("0,112", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_profile_that_never_parsed_makes_the_set_unknown_until_it_is_fixed()
    {
        var logger = new RecordingLogger<HostReservedCpus>();
        var reserved = new HostReservedCpus(logger);

        reserved.Update((Broken, Path));

        Assert.Contains(Path, reserved.Unknown, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Error, Assert.Single(logger.Entries).Level);

        reserved.Update((Good, Path));

        Assert.Null(reserved.Unknown);
        Assert.Equal(CpuSet.Parse("0,112"), reserved.Cpus);
    }

    [Fact]
    public void No_profile_reserves_nothing_and_that_is_known()
    {
        var reserved = new HostReservedCpus(new RecordingLogger<HostReservedCpus>());

        reserved.Update(null);

        Assert.Null(reserved.Unknown);
        Assert.True(reserved.Cpus.IsEmpty);
    }
}
