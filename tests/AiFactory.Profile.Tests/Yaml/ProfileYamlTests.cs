using AiFactory.Agent.Profile;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Profile.Tests.Yaml;

public class ProfileYamlTests
{
    private const string Full = """
        version: v1
        vfio:
          devices: [0000:03:00.0, "10de:2330", class:0302, nvidia-gpus]
          hostDevices: [0000:02:00.0]
        sriov:
          - pf: 0000:01:00.0
            numVfs: 2
            driversAutoprobe: false
            vfDriver: vfio-pci
        hugepages:
          - {node: 0, size: 2M, count: 64}
          - {node: 1, size: 1G, count: 1}
        cpus:
          reserved: 0-1
        services:
          - name: nvidia-persistenced.service
            holds: [nvidia-gpus]
        """;

    [Fact]
    public void A_full_profile_reads_into_every_section()
    {
        NodeProfile p = ProfileYaml.Parse(Full);

        Assert.Equal(4, p.Vfio!.Devices.Count);
        Assert.True(p.Vfio.Devices[3].AllNvidiaGpus);
        Assert.Equal("0302", p.Vfio.Devices[2].ClassPrefix);
        Assert.Equal(new SriovProfile(AiFactory.Host.Model.Pci.PciAddress.Parse("0000:01:00.0"), 2, false, "vfio-pci"), p.Sriov[0]);
        Assert.Equal([new HugepageProfile(0, 2048, 64), new HugepageProfile(1, 1048576, 1)], p.Hugepages);
        Assert.Equal("0-1", p.Cpus!.Reserved.ToString());
        Assert.Equal(CpuProfile.DefaultUnits, p.Cpus.Units);
        Assert.Equal("nvidia-persistenced.service", p.Services[0].Name);
    }

    [Fact]
    public void A_second_document_after_three_dashes_is_an_error_not_ignored()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => ProfileYaml.Parse("version: v1\nhugepages:\n  - {node: 0, size: 2M, count: 8}\n---\nversion: v1\ncpus:\n  reserved: 0-1\n"));

        ProfileValidationError error = Assert.Single(ex.Errors);
        Assert.Equal("line 5", error.Field);
        Assert.Contains("a second YAML document", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_keys_are_rejected_with_their_path_and_line()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => ProfileYaml.Parse("version: v1\nsriov:\n  - pf: 0000:01:00.0\n    numVFs: 2\n"));

        Assert.Contains(ex.Errors, e => e.Field == "sriov[0].numVFs" && e.Reason.Contains("unknown key (line 4)", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_error_is_reported_at_once_with_its_field()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => ProfileYaml.Parse("""
            version: v2
            vfio:
              devices: [gpu0]
            hugepages:
              - {node: 0, size: 3M, count: x}
            cpus:
              reserved: 3-1
            """));

        Assert.Equal(["version", "vfio.devices[0]", "hugepages[0].size", "hugepages[0].count", "cpus.reserved"], ex.Errors.Select(e => e.Field));
        Assert.Contains("reversed", ex.Errors[^1].Reason);
    }

    [Fact]
    public void A_mig_section_reads_indexes_selectors_placements_and_parted_layout_names()
    {
        NodeProfile profile = ProfileYaml.Parse("""
            version: v1
            mig:
              partedConfig: /etc/nvidia-mig-manager/config.yaml
              gpus:
                - gpu: 0
                  layout: [3g.40gb, 1g.10gb@6]
                - gpu: 0000:2a:00.0
                  config: all-1g.10gb
                - gpu: 10de:2330
                  enabled: false
            """);

        MigSection mig = profile.Mig!;
        Assert.Equal("/etc/nvidia-mig-manager/config.yaml", mig.PartedSource);
        Assert.Equal(0, mig.Gpus[0].Gpu.Index);
        Assert.Equal([new MigLayoutItem("3g.40gb", null), new MigLayoutItem("1g.10gb", 6)], mig.Gpus[0].Layout!);
        Assert.Equal("all-1g.10gb", mig.Gpus[1].Config);
        Assert.False(mig.Gpus[2].Enabled);
    }

    [Fact]
    public void A_mig_entry_with_an_unknown_key_or_a_parted_name_without_the_file_is_an_error_naming_the_field()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => ProfileYaml.Parse("""
            version: v1
            mig:
              gpus:
                - gpu: 0
                  layout: [3g.40gb@x]
                  placement: 0
                - gpu: 1
                  config: all-1g.10gb
            """));

        Assert.Equal(["mig.gpus[0].placement", "mig.gpus[0].layout[0]", "mig.gpus[1].config"], ex.Errors.Select(e => e.Field));
    }

    [Fact]
    public void The_packaged_example_profile_parses_once_uncommented()
    {
        string[] lines = File.ReadAllLines(Path.Join(AiFactory.Profile.Tests.Mig.FakeNvmlServer.RepoRoot, "packaging/common/node-profile.example.yaml"));
        string yaml = string.Join("\n", lines.SkipWhile(l => l != "# version: v1").Select(l => l.StartsWith("# ", StringComparison.Ordinal) ? l[2..] : l.TrimStart('#')));

        NodeProfile profile = ProfileYaml.Parse(yaml);

        Assert.Equal(8, profile.Sriov.Single().NumVfs);
        Assert.Equal(2, profile.Mig!.Gpus.Count);
    }

    [Fact]
    public void A_missing_version_is_an_error()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => ProfileYaml.Parse("hugepages: []\n"));

        Assert.Equal("version", Assert.Single(ex.Errors).Field);
    }

    [Fact]
    public void A_profile_nested_a_hundred_thousand_deep_is_refused_at_the_depth_limit()
    {
        string text = "version: v1\ncpus: " + new string('[', 100_000) + new string(']', 100_000) + "\n";

        var ex = Assert.Throws<ProfileFormatException>(() => ProfileYaml.Parse(text));

        ProfileValidationError error = Assert.Single(ex.Errors);
        Assert.Equal("line 2", error.Field);
        Assert.Contains("nested deeper than 64 levels (a mapping or sequence at depth 65", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_profile_larger_than_one_mebibyte_is_refused_before_it_is_parsed()
    {
        string text = "version: v1\n#" + new string('x', ProfileYaml.MaxBytes) + "\n";

        var ex = Assert.Throws<ProfileFormatException>(() => ProfileYaml.Parse(text));

        Assert.Equal("(document): is larger than 1 MiB; a profile is a few KiB", Assert.Single(ex.Errors).ToString());
    }

    [Fact]
    public void A_cancelled_call_stops_the_parse_of_a_long_profile()
    {
        string text = "version: v1\nservices: [" + string.Join(", ", Enumerable.Range(0, 5000).Select(i => "s" + i)) + "]\n";
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => ProfileYaml.Parse(text, cancelled.Token));
    }
}
