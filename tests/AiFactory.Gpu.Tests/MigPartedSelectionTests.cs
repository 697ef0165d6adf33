using AiFactory.Agent.Gpu;
using AiFactory.Host.Hardware.Nvml;

namespace AiFactory.Gpu.Tests;

[Collection("fake-nvml")]
public sealed class MigPartedSelectionTests
{
    private const string Config = """
        version: v1
        mig-configs:
          balanced:
            - devices: [0, 1]
              device-filter: ["0x233010DE"]
              mig-enabled: true
              mig-devices:
                "3g.40gb": 1
                "2g.20gb": 1
                "1g.10gb": 2
            - devices: [3]
              mig-enabled: false
              mig-devices: {}
          a100-only:
            - devices: all
              device-filter: 0x20B210DE
              mig-enabled: true
              mig-devices:
                "1g.10gb": 7
        """;

    [Fact]
    public void A_mig_parted_entry_selected_by_index_and_device_filter_is_applied_at_planned_placements()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![1]!["migMode"] = true);
        INvml api = server.Nvml.Require();

        MigPartedWanted wanted = MigPartedSelection.Resolve(api, Config, "balanced", "1", server.Inventory);
        MigApplyResult result = server.Applier.Apply("1", wanted.Profiles!, keepExisting: false);

        Assert.Null(wanted.Skipped);
        Assert.Equal(["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"], wanted.Profiles);
        Assert.Equal(["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"], result.Final.Select(i => i.Profile).Order(StringComparer.Ordinal));
        Assert.Equal(4, MigReader.ReadInstances(api, api.GetDevice(1), MigReader.ReadProfiles(api, api.GetDevice(1))).Count);
    }

    [Fact]
    public void A_GPU_no_entry_selects_is_skipped_with_the_config_name()
    {
        using var server = new FakeServer("dgx-h100");

        MigPartedWanted byIndex = MigPartedSelection.Resolve(server.Nvml.Require(), Config, "balanced", "5", server.Inventory);
        MigPartedWanted byFilter = MigPartedSelection.Resolve(server.Nvml.Require(), Config, "a100-only", "0", server.Inventory);

        Assert.Null(byIndex.Profiles);
        Assert.Equal("mig-configs.balanced: no entry selects GPU 5 (device id 0x233010DE)", byIndex.Skipped);
        Assert.Equal("mig-configs.a100-only: no entry selects GPU 0 (device id 0x233010DE)", byFilter.Skipped);
    }

    [Fact]
    public void Mig_enabled_false_on_a_MIG_GPU_is_refused_naming_the_config_and_the_mode_command()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![3]!["migMode"] = true);

        var ex = Assert.Throws<MigRefusedException>(() => MigPartedSelection.Resolve(server.Nvml.Require(), Config, "balanced", "3", server.Inventory));

        Assert.Contains("mig-configs.balanced: mig-enabled: false for GPU 3", ex.Message, StringComparison.Ordinal);
        Assert.Contains("aifactoryctl mig mode 3 --disable", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mig_enabled_true_on_a_GPU_with_MIG_off_is_refused_and_false_on_it_is_already_satisfied()
    {
        using var server = new FakeServer("dgx-h100");

        var ex = Assert.Throws<MigRefusedException>(() => MigPartedSelection.Resolve(server.Nvml.Require(), Config, "balanced", "0", server.Inventory));
        MigPartedWanted off = MigPartedSelection.Resolve(server.Nvml.Require(), Config, "balanced", "3", server.Inventory);

        Assert.Contains("--enable", ex.Message, StringComparison.Ordinal);
        Assert.Equal("mig-configs.balanced: mig-enabled: false and MIG is already disabled on GPU 3", off.Skipped);
    }

    [Fact]
    public void An_unknown_config_name_lists_the_names_the_file_has()
    {
        using var server = new FakeServer("dgx-h100");

        var ex = Assert.Throws<KeyNotFoundException>(() => MigPartedSelection.Resolve(server.Nvml.Require(), Config, "all-1g", "0", server.Inventory));

        Assert.Equal("no mig-config \"all-1g\" (the file has balanced, a100-only)", ex.Message);
    }
}
