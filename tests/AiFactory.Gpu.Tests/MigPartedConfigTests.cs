using AiFactory.Agent.Gpu;

namespace AiFactory.Gpu.Tests;

public sealed class MigPartedConfigTests
{
    private const string Config = """
        version: v1
        mig-configs:
          all-disabled:
            - devices: all
              mig-enabled: false
          all-1g.10gb:
            - devices: all
              mig-enabled: true
              mig-devices:
                "1g.10gb": 7
          custom-config:
            - devices: [0, 1, 2, 3]
              mig-enabled: false
            - devices: [4, 5, 6, 7]
              mig-enabled: true
              device-filter: ["0x233010DE"]
              mig-devices:
                "3g.40gb": 1
                "2g.20gb": 1
                "1g.10gb": 2
        """;

    [Fact]
    public void A_mig_parted_file_gives_each_GPU_its_profiles()
    {
        MigPartedConfig config = MigPartedConfig.Parse(Config, "config.yaml");

        Assert.Equal(["all-disabled", "all-1g.10gb", "custom-config"], config.Configs.Keys);
        Assert.Equal((true, "1g.10gb,1g.10gb,1g.10gb,1g.10gb,1g.10gb,1g.10gb,1g.10gb"), Unwrap(config.ForGpu("all-1g.10gb", 3, 0x233010de)));
        Assert.Equal((false, ""), Unwrap(config.ForGpu("custom-config", 2, 0x233010de)));
        Assert.Equal((true, "1g.10gb,1g.10gb,2g.20gb,3g.40gb"), Unwrap(config.ForGpu("custom-config", 5, 0x233010de)));
        Assert.Null(config.ForGpu("custom-config", 5, 0x20b210de));
    }

    [Fact]
    public void An_unknown_key_is_rejected_with_its_name_and_line()
    {
        var ex = Assert.Throws<FormatException>(() => MigPartedConfig.Parse("version: v1\nmig-configs:\n  a:\n    - devices: all\n      mig-enabled: true\n      mig-devics: {}\n", "c.yaml"));

        Assert.Equal("c.yaml: mig-configs.a[0]: unknown key \"mig-devics\" (line 6); known: devices, mig-enabled, mig-devices, device-filter", ex.Message);
    }

    [Fact]
    public void Only_version_v1_is_read()
    {
        var ex = Assert.Throws<FormatException>(() => MigPartedConfig.Parse("version: v2\nmig-configs: {}\n", "c.yaml"));

        Assert.Equal("c.yaml: version: \"v2\" is not supported (only v1)", ex.Message);
    }

    private static (bool, string) Unwrap((bool MigEnabled, IReadOnlyList<string> Profiles)? r) => (r!.Value.MigEnabled, string.Join(",", r.Value.Profiles));
}
