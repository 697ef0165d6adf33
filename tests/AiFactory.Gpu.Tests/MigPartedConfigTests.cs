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
    public void An_unknown_key_is_rejected_with_its_line_and_column()
    {
        var ex = Assert.Throws<FormatException>(() => MigPartedConfig.Parse("version: v1\nmig-configs:\n  a:\n    - devices: all\n      mig-enabled: true\n      mig-devics: {}\n", "c.yaml"));

        Assert.Equal("c.yaml: line 6, column 7: unknown key in an entry of a mig-config; known: devices, mig-enabled, mig-devices, device-filter", ex.Message);
    }

    [Theory]
    [InlineData("root: \"*:20228:0:99999:7:::\"\n", "c.yaml: line 1, column 1: unknown key; v1 has version and mig-configs")]
    [InlineData("version: v1\nmig-configs:\n  a:\n    - devices: [secret0]\n      mig-enabled: true\n", "c.yaml: line 4, column 17: devices: must be \"all\" or a list of GPU indexes")]
    [InlineData("version: v1\nmig-configs:\n  a:\n    - devices: all\n      mig-enabled: secret1\n", "c.yaml: line 5, column 20: mig-enabled: must be true or false")]
    [InlineData("version: v1\nmig-configs:\n  a:\n    - devices: all\n      mig-enabled: true\n      device-filter: secret2\n", "c.yaml: line 6, column 22: device-filter: must be a PCI device id like 0x233010DE")]
    [InlineData("version: v1\nmig-configs:\n  a:\n    - devices: all\n      mig-enabled: true\n      mig-devices:\n        1g.10gb: secret3\n", "c.yaml: line 7, column 18: mig-devices: a count must be a whole number")]
    [InlineData("version: v1\nmig-configs: [*secret4]\n", "c.yaml: line 1, column 1: not valid YAML")]
    public void An_error_names_the_line_and_column_and_never_quotes_the_file(string text, string message)
    {
        var ex = Assert.Throws<FormatException>(() => MigPartedConfig.Parse(text, "c.yaml"));

        Assert.Equal(message, ex.Message);
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("20228", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_version_v1_is_read()
    {
        var ex = Assert.Throws<FormatException>(() => MigPartedConfig.Parse("version: v2\nmig-configs: {}\n", "c.yaml"));

        Assert.Equal("c.yaml: line 1, column 10: version: not supported (only v1)", ex.Message);
    }

    private static (bool, string) Unwrap((bool MigEnabled, IReadOnlyList<string> Profiles)? r) => (r!.Value.MigEnabled, string.Join(",", r.Value.Profiles));

    [Fact]
    public void A_config_nested_a_hundred_thousand_deep_is_refused_naming_the_file_and_the_depth()
    {
        string text = "version: v1\nmig-configs: " + new string('[', 100_000) + new string(']', 100_000) + "\n";

        var ex = Assert.Throws<FormatException>(() => MigPartedConfig.Parse(text, "c.yaml"));

        Assert.Equal("c.yaml: line 2, column 77: nested deeper than 64 levels (stopped at depth 65)", ex.Message);
    }
}
