using AiFactory.Agent.Gpu;

namespace AiFactory.Gpu.Tests;

public sealed class MigProfileNamesTests
{
    /// <summary>
    /// What a real H100 80GB HBM3 answered (driver 580.159.04, MIG off): profile index, slices and memory in MiB, with
    /// an empty name each time; total memory 85 520 809 984 bytes. The names are those `nvidia-smi mig -lgip` printed.
    /// </summary>
    [Theory]
    [InlineData(0u, 1u, 9984ul, "1g.10gb")]
    [InlineData(7u, 1u, 9984ul, "1g.10gb+me")]
    [InlineData(9u, 1u, 20096ul, "1g.20gb")]
    [InlineData(1u, 2u, 20096ul, "2g.20gb")]
    [InlineData(2u, 3u, 40448ul, "3g.40gb")]
    [InlineData(3u, 4u, 40448ul, "4g.40gb")]
    [InlineData(4u, 7u, 81152ul, "7g.80gb")]
    public void A_nameless_profile_of_a_real_H100_gets_the_name_nvidia_smi_prints(uint index, uint slices, ulong memoryMiB, string expected)
    {
        Assert.Equal(expected, MigProfileNames.Resolve("", index, slices, memoryMiB, 85_520_809_984));
    }

    [Theory]
    [InlineData(0u, 1u, 4864ul, 40_960ul, "1g.5gb")]     // A100 40GB
    [InlineData(9u, 1u, 9856ul, 40_960ul, "1g.10gb")]
    [InlineData(4u, 7u, 39424ul, 40_960ul, "7g.40gb")]
    [InlineData(0u, 1u, 11776ul, 97_871ul, "1g.12gb")]   // H100 96GB (GH200)
    [InlineData(2u, 3u, 47104ul, 97_871ul, "3g.48gb")]
    [InlineData(0xAu, 1u, 11776ul, 97_871ul, "1g.12gb+gfx")]
    [InlineData(0xDu, 1u, 11776ul, 97_871ul, "1g.12gb-me")]
    [InlineData(0xFu, 1u, 11776ul, 97_871ul, "1g.12gb+me.all")]
    [InlineData(0x11u, 3u, 47104ul, 97_871ul, "3g.48gb+gfx")] // 3_SLICE_GFX: not the plain 3g profile's name
    public void A_nameless_profile_is_named_by_its_share_of_the_GPU_memory_in_eighths(uint index, uint slices, ulong memoryMiB, ulong deviceMiB, string expected)
    {
        Assert.Equal(expected, MigProfileNames.Resolve(" ", index, slices, memoryMiB, deviceMiB * 1024 * 1024));
    }

    [Fact]
    public void A_name_from_NVML_wins_without_its_MIG_prefix()
    {
        Assert.Equal("1g.10gb", MigProfileNames.Resolve("MIG 1g.10gb", 7, 1, 9984, 85_520_809_984));
        Assert.Equal("2g.20gb", MigProfileNames.Resolve("2g.20gb", 0, 1, 1, 1));
    }

    [Fact]
    public void Without_the_GPU_memory_the_profile_memory_is_rounded_up_to_whole_GiB()
    {
        Assert.Equal("1g.10gb", MigProfileNames.Resolve("", 0, 1, 9984, 0));
    }

    [Fact]
    public void The_dgx_fixture_answers_without_names_like_the_real_H100_and_its_instances_are_still_named()
    {
        using var server = new FakeServer("dgx-h100");
        server.Applier.SetMode("0000:18:00.0", enabled: true, reset: false, resetAllowed: true);

        MigApplyResult result = server.Applier.Apply("0000:18:00.0", ["3g.40gb", "1g.10gb+me", "1g.20gb"], keepExisting: false);

        Assert.Equal(["1g.10gb+me", "1g.20gb", "3g.40gb"], result.Final.Select(i => i.Profile).Order());
        Assert.Equal(["1g.10gb+me", "1g.20gb", "3g.40gb"], result.Final.Select(i => Assert.Single(i.ComputeInstances).Profile).Order());
    }
}
