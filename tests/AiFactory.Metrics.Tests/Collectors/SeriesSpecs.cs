using AiFactory.Agent.Configuration;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Metrics.Tests.Fixtures;
using Sample = AiFactory.Metrics.Tests.Fixtures.ExpositionParser.Sample;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>What the series say about the golden host, checked by meaning rather than by text.</summary>
public sealed class SeriesSpecs
{
    private static readonly List<Sample> Golden = ExpositionParser.Parse(Scrapes.Text(Scrapes.GoldenHost()), openMetrics: false);

    private static IEnumerable<Sample> Named(string name) => Golden.Where(s => s.Name == name);

    private static double Value(string name, params (string Key, string Value)[] labels) =>
        Named(name).Single(s => labels.All(l => s.Labels.TryGetValue(l.Key, out string? v) && v == l.Value)).Value;

    [Fact]
    public void Gpu_series_carry_dcgm_exporters_label_keys_in_its_order()
    {
        string text = Scrapes.Text(Scrapes.GoldenHost());

        Assert.Contains(
            "DCGM_FI_DEV_GPU_TEMP{gpu=\"0\",UUID=\"GPU-5a1c0e2d-3f4b-4c6d-8e9f-0a1b2c3d4e00\",pci_bus_id=\"00000000:1B:00.0\",device=\"nvidia0\"," +
            "modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"dgx-h100-01\",DCGM_FI_DRIVER_VERSION=\"550.127.05\"} 30\n",
            text, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_MIG_instance_has_its_memory_series_under_its_parent_with_profile_and_instance_id()
    {
        var mig = Named("DCGM_FI_DEV_FB_USED").Where(s => s.Labels.ContainsKey("GPU_I_ID")).ToList();

        Assert.Equal(5 * 7, mig.Count);
        Sample first = mig.First(s => s.Labels["gpu"] == "5" && s.Labels["GPU_I_ID"] == "9");
        Assert.Equal("1g.10gb", first.Labels["GPU_I_PROFILE"]);
        Assert.Equal("GPU-5a1c5e2d-3f4b-4c6d-8e9f-0a1b2c3d4e50", first.Labels["UUID"]);
        Assert.Equal(22, first.Value);
    }

    [Fact]
    public void A_GPU_split_into_MIG_instances_is_reported_only_as_its_instances_as_dcgm_exporter_does()
    {
        var gpu5 = Golden.Where(s => s.Name.StartsWith("DCGM_", StringComparison.Ordinal) && s.Labels["gpu"] == "5").ToList();

        Assert.All(gpu5, s => Assert.True(s.Labels.ContainsKey("GPU_I_ID"), s.Name + " of GPU 5 has no GPU_I_ID"));
        // Device-wide readings repeat the parent's value on each instance (DCGM gives a GPU instance its GPU's value).
        Assert.Equal(Enumerable.Repeat(35.0, 7), gpu5.Where(s => s.Name == "DCGM_FI_DEV_GPU_TEMP").Select(s => s.Value));
        // GPU 0 is not in MIG mode: one entity, no GPU_I labels.
        Assert.DoesNotContain(Golden, s => s.Name.StartsWith("DCGM_", StringComparison.Ordinal) && s.Labels["gpu"] == "0" && s.Labels.ContainsKey("GPU_I_ID"));
    }

    [Fact]
    public void Framebuffer_summed_by_gpu_counts_each_MIG_GPUs_memory_once()
    {
        double Sum(string name, string gpu) => Named(name).Where(s => s.Labels["gpu"] == gpu).Sum(s => s.Value);

        // GPU 5: 7 × 1g.10gb, 9856 MiB each, free + used; no GPU-level series to add the whole GPU a second time.
        Assert.Equal(7 * 9856, Sum("DCGM_FI_DEV_FB_FREE", "5") + Sum("DCGM_FI_DEV_FB_USED", "5"));
        Assert.Equal((7 * 13) + 7 + 8 + 9 + 10 + 11 + 12 + 13, Sum("DCGM_FI_DEV_FB_USED", "5"));
        Assert.Equal(81_559, Sum("DCGM_FI_DEV_FB_FREE", "0") + Sum("DCGM_FI_DEV_FB_USED", "0"));
        Assert.DoesNotContain(Named("DCGM_FI_DEV_FB_RESERVED"), s => s.Labels.ContainsKey("GPU_I_ID"));
    }

    [Fact]
    public void The_XID_series_carries_dcgm_exporters_err_code_and_err_msg()
    {
        Sample xid = Named("DCGM_FI_DEV_XID_ERRORS").First(s => s.Labels["gpu"] == "3");
        Sample none = Named("DCGM_FI_DEV_XID_ERRORS").Single(s => s.Labels["gpu"] == "0");

        Assert.Equal(79, xid.Value);
        Assert.Equal(("79", "GPU has fallen off the bus"), (xid.Labels["err_code"], xid.Labels["err_msg"]));
        Assert.Equal(("0", "No Error"), (none.Labels["err_code"], none.Labels["err_msg"]));
        Assert.Contains(
            "DCGM_FI_DEV_XID_ERRORS{gpu=\"0\",UUID=\"GPU-5a1c0e2d-3f4b-4c6d-8e9f-0a1b2c3d4e00\",pci_bus_id=\"00000000:1B:00.0\",device=\"nvidia0\"," +
            "modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"dgx-h100-01\",DCGM_FI_DRIVER_VERSION=\"550.127.05\",err_code=\"0\",err_msg=\"No Error\"} 0\n",
            Scrapes.Text(Scrapes.GoldenHost()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(13UL, "Graphics Engine Exception")]
    [InlineData(48UL, "Double Bit ECC Error")]
    [InlineData(94UL, "Contained ECC error")]
    [InlineData(119UL, "GSP RPC Timeout")]
    [InlineData(999UL, "Unknown Error")]
    public void An_XID_is_named_as_dcgm_exporter_names_it(ulong xid, string name) =>
        Assert.Equal(name, AiFactory.Agent.Gpu.XidTable.Name(xid));

    [Fact]
    public void The_device_label_is_nvidia_and_the_GPU_index_as_dcgm_exporter_writes_it()
    {
        Assert.All(Golden.Where(s => s.Name.StartsWith("DCGM_", StringComparison.Ordinal)), s => Assert.Equal("nvidia" + s.Labels["gpu"], s.Labels["device"]));
    }

    [Fact]
    public void Vfio_bound_GPUs_show_up_with_their_link_AER_counters_and_lease_though_NVML_cannot_see_them()
    {
        const string gpu7 = "0000:df:00.0";

        Assert.DoesNotContain(Named("DCGM_FI_DEV_GPU_TEMP"), s => s.Labels["pci_bus_id"] == "00000000:DF:00.0");
        Assert.Equal("vfio-pci", Named("aifactory_pci_device_info").Single(s => s.Labels["address"] == gpu7).Labels["driver"]);
        Assert.Equal(2, Value("aifactory_vfio_bound_devices", ("kind", "gpu")));
        Assert.Equal(1, Value("aifactory_vfio_bound_devices", ("kind", "nic")));
        Assert.Equal(16, Value("aifactory_pci_link_speed_gigatransfers_per_second", ("address", gpu7)));
        Assert.Equal(32, Value("aifactory_pci_link_max_speed_gigatransfers_per_second", ("address", gpu7)));
        Assert.Equal(0, Value("aifactory_pci_link_degraded", ("address", gpu7)));
        Assert.Equal(1, Value("aifactory_pci_link_speed_reduced", ("address", gpu7)));
        Assert.Equal(4, Value("aifactory_pci_aer_errors_total", ("address", gpu7), ("severity", "correctable"), ("error", "BadTLP")));
        Assert.DoesNotContain(Named("aifactory_pci_aer_errors_total"), s => s.Labels["error"].StartsWith("TOTAL_", StringComparison.Ordinal));
        Sample map = Named("aifactory_lease_device_info").Single(s => s.Labels["address"] == gpu7);
        Assert.Equal(("l-7f3a", "vm-train-01", "gpu"), (map.Labels["lease"], map.Labels["vm"], map.Labels["kind"]));
    }

    [Fact]
    public void A_lost_lane_is_degraded_while_an_idle_GPUs_speed_drop_and_a_slower_slot_are_not()
    {
        Assert.Equal(1, Value("aifactory_pci_link_degraded", ("address", "0000:d1:00.0"))); // GPU 6 at x8 of x16
        Assert.Equal(0, Value("aifactory_pci_link_speed_reduced", ("address", "0000:d1:00.0")));
        Assert.Equal(0, Value("aifactory_pci_link_degraded", ("address", "0000:df:00.0"))); // GPU 7 idle at Gen4
        Assert.Equal(0, Value("aifactory_pci_link_degraded", ("address", "0000:dc:00.0"))); // NIC 7 in a Gen4 slot
        Assert.Equal(0, Value("aifactory_pci_link_speed_reduced", ("address", "0000:dc:00.0")));
    }

    [Fact]
    public void Virtual_functions_are_counted_per_physical_function()
    {
        Assert.Equal(4, Value("aifactory_sriov_vfs", ("address", "0000:18:00.0")));
        Assert.Equal(16, Value("aifactory_sriov_max_vfs", ("address", "0000:18:00.0")));
        Assert.Single(Named("aifactory_sriov_vfs"));
    }

    [Fact]
    public void Hugepages_are_split_per_node_and_size_into_total_free_and_leased()
    {
        Assert.Equal(64, Value("aifactory_hugepages_pages", ("numa_node", "1"), ("page_size_kib", "1048576")));
        Assert.Equal(48, Value("aifactory_hugepages_free_pages", ("numa_node", "1"), ("page_size_kib", "1048576")));
        Assert.Equal(16, Value("aifactory_hugepages_leased_pages", ("numa_node", "1"), ("page_size_kib", "1048576")));
        Assert.Equal(512, Value("aifactory_hugepages_leased_pages", ("numa_node", "0"), ("page_size_kib", "2048")));
        Assert.Equal(0, Value("aifactory_hugepages_leased_pages", ("numa_node", "0"), ("page_size_kib", "1048576")));
    }

    [Fact]
    public void Cpus_per_node_add_up_to_the_nodes_online_cpus_split_into_reserved_dedicated_and_shared()
    {
        Assert.Equal(8, Value("aifactory_numa_cpus", ("numa_node", "0"), ("state", "reserved")));
        Assert.Equal(2, Value("aifactory_numa_cpus", ("numa_node", "0"), ("state", "dedicated")));
        Assert.Equal(102, Value("aifactory_numa_cpus", ("numa_node", "0"), ("state", "shared")));
        Assert.Equal(16, Value("aifactory_numa_cpus", ("numa_node", "1"), ("state", "dedicated")));
        Assert.Equal(112, Named("aifactory_numa_cpus").Where(s => s.Labels["numa_node"] == "1").Sum(s => s.Value));
    }

    [Fact]
    public void A_lease_whose_cpus_and_memory_sit_off_its_devices_node_is_flagged_misaligned()
    {
        Assert.Equal(1, Value("aifactory_lease_numa_misaligned", ("lease", "l-2b9c"), ("resource", "cpu")));
        Assert.Equal(1, Value("aifactory_lease_numa_misaligned", ("lease", "l-2b9c"), ("resource", "memory")));
        Assert.Equal(0, Value("aifactory_lease_numa_misaligned", ("lease", "l-7f3a"), ("resource", "cpu")));
        Assert.Equal(0, Value("aifactory_lease_numa_misaligned", ("lease", "l-7f3a"), ("resource", "memory")));
        Assert.DoesNotContain(Named("aifactory_lease_numa_misaligned"), s => s.Labels["lease"] == "l-9d01");
    }

    [Fact]
    public void Leases_are_counted_by_state()
    {
        Assert.Equal(2, Value("aifactory_leases", ("state", "active")));
        Assert.Equal(1, Value("aifactory_leases", ("state", "pending")));
        Assert.Equal(0, Value("aifactory_leases", ("state", "attached")));
    }

    [Fact]
    public void No_leases_read_as_zero_rather_than_as_an_absent_series()
    {
        var samples = ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(DgxH100.Node(0), null, [])), openMetrics: false);

        Assert.Equal(0, samples.Single(s => s.Name == "aifactory_leases" && s.Labels["state"] == "active").Value);
        Assert.Equal(0, samples.Single(s => s.Name == "aifactory_leases" && s.Labels["state"] == "attached").Value);
    }

    [Fact]
    public void Rpc_durations_are_a_histogram_by_method_and_code()
    {
        Assert.Equal(2, Value("aifactory_rpc_duration_seconds_count", ("method", "/grpc.health.v1.Health/Check"), ("code", "OK")));
        Assert.Equal(1, Value("aifactory_rpc_duration_seconds_bucket", ("method", "/grpc.health.v1.Health/Check"), ("code", "OK"), ("le", "0.0005")));
        Assert.Equal(1, Value("aifactory_rpc_duration_seconds_count", ("method", "/aifactory.agent.v1.Leases/Create"), ("code", "FAILED_PRECONDITION")));
    }

    [Fact]
    public void Every_collector_reports_success_and_duration()
    {
        string[] collectors = ["gpu", "pci", "numa", "leases", "agent"];

        Assert.Equal(collectors, Named("aifactory_scrape_collector_success").Select(s => s.Labels["collector"]));
        Assert.All(Named("aifactory_scrape_collector_success"), s => Assert.Equal(1, s.Value));
        Assert.Equal(collectors, Named("aifactory_scrape_collector_duration_seconds").Select(s => s.Labels["collector"]));
    }

    [Fact]
    public void A_failing_source_fails_only_its_collector_and_leaves_no_partial_family()
    {
        var scraper = Scrapes.Scraper(DgxH100.Node(2), null, DgxH100.Leases(2), gpuSource: new FailingGpuSource());

        var samples = ExpositionParser.Parse(Scrapes.Text(scraper), openMetrics: false);

        Assert.DoesNotContain(samples, s => s.Name.StartsWith("DCGM_", StringComparison.Ordinal));
        Assert.Equal(0, samples.Single(s => s.Name == "aifactory_scrape_collector_success" && s.Labels["collector"] == "gpu").Value);
        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_scrape_collector_success" && s.Labels["collector"] == "pci").Value);
    }

    [Fact]
    public void The_hostname_label_key_can_be_renamed_or_left_out()
    {
        var renamed = MetricsOptions.From(new AgentOptions { MetricsHostnameLabel = "node", MetricsHostname = "k8s-node-7" });
        var none = MetricsOptions.From(new AgentOptions { MetricsHostnameLabel = string.Empty });

        var withNode = ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(null, DgxH100.Gpus(0), null, options: renamed)), false);
        var without = ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(null, DgxH100.Gpus(0), null, options: none)), false);

        Assert.All(withNode.Where(s => s.Name.StartsWith("DCGM_", StringComparison.Ordinal)), s =>
        {
            Assert.Equal("k8s-node-7", s.Labels["node"]);
            Assert.False(s.Labels.ContainsKey("Hostname"));
        });
        Assert.DoesNotContain(without, s => s.Labels.ContainsKey("Hostname") || s.Labels.ContainsKey("node"));
    }

    [Fact]
    public void The_full_MIG_host_has_56_instances_and_a_bounded_series_count_per_gpu()
    {
        var samples = ExpositionParser.Parse(Scrapes.Text(Scrapes.FullMigHost()), openMetrics: false);

        Assert.Equal(56, samples.Count(s => s.Name == "DCGM_FI_DEV_FB_USED" && s.Labels.ContainsKey("GPU_I_ID")));
        int perGpu = samples.Count(s => s.Labels.TryGetValue("gpu", out string? g) && g == "0");
        // 7 instances × (15 device-wide series repeated + FB free and used of their own); no GPU-level series.
        Assert.Equal(7 * 17, perGpu);
    }
}
