using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>
/// Discovery on copies of fixtures with one value damaged (what an audit found with mutated trees): the damaged value
/// is unknown, with a warning naming the file and what is wrong, never 0 or a plausible value, and the rest of the
/// inventory is still reported.
/// </summary>
public sealed class DamagedAttributeTests : IDisposable
{
    private readonly List<string> _roots = [];

    public void Dispose()
    {
        foreach (string root in _roots)
        {
            Directory.Delete(root, true);
        }
    }

    private string Copy(string fixture)
    {
        string root = HardwareFixtures.FreshCopy(fixture);
        _roots.Add(root);
        return root;
    }

    private static HostTopology Discover(string root) => new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();

    private static string Device(string root, string address) => Path.Combine(root, "sys/bus/pci/devices", address);

    private static string Node(string root, int id) => Path.Combine(root, "sys/devices/system/node", "node" + id);

    private static string Cpu(string root, int id) => Path.Combine(root, "sys/devices/system/cpu", "cpu" + id);

    private static void AssertWarning(HostTopology t, string pathEnd, string messagePart) =>
        Assert.Contains(t.Warnings, w => w.Path.EndsWith(pathEnd, StringComparison.Ordinal) && w.Message.Contains(messagePart, StringComparison.Ordinal));

    // --- oversized attributes ---------------------------------------------------------------------------------

    [Fact]
    public void A_local_cpulist_longer_than_a_page_is_read_whole()
    {
        string root = Copy("workstation");
        string list = string.Join(',', Enumerable.Range(0, CpuSet.MaxCpuId + 1));
        Assert.True(list.Length > 4096);
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.0"), "local_cpulist"), list + "\n");

        HostTopology t = Discover(root);

        Assert.Equal(CpuSet.MaxCpuId + 1, t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.LocalCpus!.Count);
        Assert.DoesNotContain(t.Warnings, w => w.Path.EndsWith("local_cpulist", StringComparison.Ordinal));
    }

    [Fact]
    public void A_numa_node_file_longer_than_a_page_is_unknown_with_a_warning_not_node_0()
    {
        string root = Copy("workstation");
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.0"), "numa_node"), new string('0', 100_000));

        HostTopology t = Discover(root);

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.NumaNode);
        AssertWarning(t, "0000:01:00.0/numa_node", "longer than 4096 bytes; ignored");
        Assert.NotNull(t.FindDevice(PciAddress.Parse("0000:03:00.0")));
    }

    [Fact]
    public void A_cpu_list_longer_than_64_KiB_is_unknown_with_a_warning()
    {
        string root = Copy("workstation");
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.0"), "local_cpulist"), "0," + new string(' ', 70_000) + "1");

        HostTopology t = Discover(root);

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.LocalCpus);
        AssertWarning(t, "0000:01:00.0/local_cpulist", "longer than 65536 bytes; ignored");
    }

    [Fact]
    public void A_rescan_sees_no_change_in_a_tree_with_a_long_cpu_list()
    {
        string root = Copy("workstation");
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.0"), "local_cpulist"), string.Join(',', Enumerable.Range(0, 4000)) + "\n");
        var discovery = new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc"));
        _ = discovery.Discover();

        Assert.False(discovery.HasChanged());
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.0"), "local_cpulist"), string.Join(',', Enumerable.Range(0, 4001)) + "\n");
        Assert.True(discovery.HasChanged());
    }

    // --- NUMA nodes ---------------------------------------------------------------------------------------------

    [Fact]
    public void A_node_directory_replaced_by_a_file_is_reported_and_its_cpus_are_named()
    {
        string root = Copy("dgx-h100");
        Directory.Delete(Node(root, 1), true);
        File.WriteAllText(Node(root, 1), "x");

        HostTopology t = Discover(root);

        AssertWarning(t, "node1/cpulist", "its CPUs are unknown");
        AssertWarning(t, "node1/meminfo", "its memory is unknown");
        DiscoveryWarning w = Assert.Single(t.Warnings, w => w.Message.Contains("in no NUMA node's cpulist", StringComparison.Ordinal));
        Assert.Equal("56-111,168-223", w.RawValue);
        Assert.Equal(224, t.Cpus.Cpus.Count);
    }

    [Fact]
    public void A_node_without_meminfo_is_reported_and_its_memory_is_unknown_not_0()
    {
        string root = Copy("dgx-h100");
        File.Delete(Path.Combine(Node(root, 0), "meminfo"));

        HostTopology t = Discover(root);

        AssertWarning(t, "node0/meminfo", "memory is unknown");
        Assert.Null(t.FindNode(0)!.MemoryTotalBytes);
        Assert.Null(t.FindNode(0)!.MemoryFreeBytes);
        Assert.True(t.FindNode(1)!.MemoryTotalBytes > 0);
    }

    [Fact]
    public void A_node_meminfo_without_a_memtotal_line_is_unknown_not_0()
    {
        string root = Copy("dgx-h100");
        File.WriteAllText(Path.Combine(Node(root, 1), "meminfo"), "Node 1 MemFree:        1000 kB\n");

        HostTopology t = Discover(root);

        AssertWarning(t, "node1/meminfo", "node1's memory is unknown");
        Assert.Null(t.FindNode(1)!.MemoryTotalBytes);
        Assert.Null(t.FindNode(1)!.MemoryFreeBytes);
    }

    [Fact]
    public void Node_memory_far_below_the_machines_mem_total_is_reported_as_given_with_a_warning_naming_both_figures()
    {
        // As on a KVM guest with an H100: node0 said 4.3 GiB of a machine with 125 GiB.
        string root = Copy("workstation");
        File.WriteAllText(Path.Combine(Node(root, 0), "meminfo"), "Node 0 MemTotal:        4550128 kB\nNode 0 MemFree:         4000000 kB\n");

        HostTopology t = Discover(root);

        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/sys/devices/system/node", w.Path);
        Assert.Equal(
            "the NUMA nodes' MemTotal add up to 4.3 GiB (4550128 kB) but /proc/meminfo MemTotal is 125.5 GiB (131546300 kB); both are reported as the kernel gives them, and cannot both be right",
            w.Message);
        Assert.Equal(4550128L * 1024, t.FindNode(0)!.MemoryTotalBytes);
        Assert.Equal(131546300L * 1024, t.MemoryTotalBytes);
    }

    [Fact]
    public void Node_memory_above_the_machines_mem_total_is_reported_with_a_warning()
    {
        string root = Copy("dgx-h100");
        File.WriteAllText(Path.Combine(Node(root, 1), "meminfo"), "Node 1 MemTotal:     1356891648 kB\n");

        HostTopology t = Discover(root);

        AssertWarning(t, "/devices/system/node", "add up to 2301.5 GiB (2413349080 kB) but /proc/meminfo MemTotal is 2015.4 GiB (2113349080 kB)");
    }

    [Fact]
    public void Node_memory_a_little_off_the_machines_mem_total_is_no_warning()
    {
        // 9% short: within the tolerance (a tenth plus 256 MiB; a hotplug between the two reads).
        string root = Copy("dgx-h100");
        File.WriteAllText(Path.Combine(Node(root, 1), "meminfo"), "Node 1 MemTotal:      866690231 kB\n");

        HostTopology t = Discover(root);

        Assert.Empty(t.Warnings);
    }

    [Fact]
    public void Node_memory_is_not_compared_when_a_node_is_unknown_or_procfs_is_not_read()
    {
        string root = Copy("dgx-h100");
        File.WriteAllText(Path.Combine(Node(root, 1), "meminfo"), "Node 1 MemTotal:          1 kB\n");
        string other = Copy("dgx-h100");
        File.Delete(Path.Combine(Node(other, 1), "meminfo"));

        HostTopology withoutProcfs = new HostDiscovery(Path.Combine(root, "sys"), null).Discover();
        HostTopology nodeUnknown = Discover(other);

        Assert.Empty(withoutProcfs.Warnings);
        Assert.DoesNotContain(nodeUnknown.Warnings, w => w.Message.Contains("add up to", StringComparison.Ordinal));
    }

    [Fact]
    public void A_distance_row_shorter_than_the_node_count_is_unknown_with_a_warning()
    {
        string root = Copy("dgx-h100");
        File.WriteAllText(Path.Combine(Node(root, 0), "distance"), "10\n");

        HostTopology t = Discover(root);

        AssertWarning(t, "node0/distance", "1 values for 2 nodes");
        Assert.Empty(t.FindNode(0)!.Distances);
        Assert.Equal(new[] { 21, 10 }, t.FindNode(1)!.Distances);
    }

    [Fact]
    public void A_garbage_hugepage_count_leaves_the_pool_out_instead_of_reporting_0_of_99999_free()
    {
        string root = Copy("dgx-h100");
        string pool = Path.Combine(Node(root, 0), "hugepages/hugepages-2048kB");
        File.WriteAllText(Path.Combine(pool, "nr_hugepages"), "lots\n");
        File.WriteAllText(Path.Combine(pool, "free_hugepages"), "99999\n");

        HostTopology t = Discover(root);

        AssertWarning(t, "hugepages-2048kB/nr_hugepages", "not a number");
        AssertWarning(t, "node0/hugepages/hugepages-2048kB", "pool left out");
        Assert.DoesNotContain(t.FindNode(0)!.Hugepages, p => p.PageSizeKiB == 2048);
        Assert.Contains(t.FindNode(1)!.Hugepages, p => p.PageSizeKiB == 2048);
    }

    [Fact]
    public void A_device_numa_node_that_does_not_exist_is_unknown_with_a_warning()
    {
        string root = Copy("dgx-h100");
        File.WriteAllText(Path.Combine(Device(root, "0000:19:00.0"), "numa_node"), "7\n");

        HostTopology t = Discover(root);

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:19:00.0"))!.NumaNode);
        AssertWarning(t, "0000:19:00.0/numa_node", "node 7, which does not exist");
    }

    // --- CPU topology -------------------------------------------------------------------------------------------

    [Fact]
    public void Unknown_package_ids_are_grouped_by_package_cpus_list_as_hwloc_does()
    {
        string root = Copy("dgx-h100");
        for (int cpu = 0; cpu < 224; cpu++)
        {
            File.WriteAllText(Path.Combine(Cpu(root, cpu), "topology/physical_package_id"), "-1\n");
        }

        HostTopology t = Discover(root);

        Assert.Equal(2, t.Sockets.Count);
        Assert.Equal(112, t.Cpus.CoreCount);
        Assert.Equal(t.Cpus.Cpus.Single(c => c.Id == 0).Socket, t.Cpus.Cpus.Single(c => c.Id == 167).Socket);
        Assert.NotEqual(t.Cpus.Cpus.Single(c => c.Id == 0).Socket, t.Cpus.Cpus.Single(c => c.Id == 56).Socket);
    }

    [Fact]
    public void Unknown_core_ids_are_grouped_by_thread_siblings()
    {
        string root = Copy("dgx-h100");
        for (int cpu = 0; cpu < 224; cpu++)
        {
            File.WriteAllText(Path.Combine(Cpu(root, cpu), "topology/core_id"), "-1\n");
        }

        HostTopology t = Discover(root);

        Assert.Equal(112, t.Cpus.CoreCount);
        Assert.Equal(t.Cpus.Cpus.Single(c => c.Id == 60).Core, t.Cpus.Cpus.Single(c => c.Id == 172).Core);
    }

    [Fact]
    public void A_cpu_whose_topology_is_missing_is_placed_on_its_siblings_core_with_a_warning_not_counted_as_a_new_core()
    {
        string root = Copy("dgx-h100");
        Directory.Delete(Path.Combine(Cpu(root, 60), "topology"), true);

        HostTopology t = Discover(root);

        Assert.Equal(112, t.Cpus.CoreCount);
        LogicalCpu cpu60 = t.Cpus.Cpus.Single(c => c.Id == 60);
        LogicalCpu cpu172 = t.Cpus.Cpus.Single(c => c.Id == 172);
        Assert.Equal((cpu172.Socket, cpu172.Core), (cpu60.Socket, cpu60.Core));
        AssertWarning(t, "cpu60/topology", "cpu60: topology files missing");
    }

    // --- PCI functions ------------------------------------------------------------------------------------------

    [Fact]
    public void The_audio_function_of_an_idle_gpu_does_not_have_a_degraded_link()
    {
        // The workstation's GPU (01:00.0) idles at 2.5 GT/s; its audio function (01:00.1) reports the same link.
        HostTopology t = Discover(HardwareFixtures.Root("workstation"));

        PciDevice audio = t.FindDevice(PciAddress.Parse("0000:01:00.1"))!;
        Assert.Equal(DeviceKind.GpuAudio, audio.Kind);
        Assert.True(audio.Link!.IsSpeedReduced);
        Assert.False(audio.IsLinkDegraded);
    }

    [Fact]
    public void The_audio_function_of_a_gpu_with_a_lost_lane_is_degraded()
    {
        string root = Copy("workstation");
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.1"), "current_link_width"), "8\n");

        HostTopology t = Discover(root);

        Assert.True(t.FindDevice(PciAddress.Parse("0000:01:00.1"))!.IsLinkDegraded);
    }

    [Theory]
    [InlineData("20")]
    [InlineData("65535")]
    [InlineData("many")]
    public void An_impossible_sriov_numvfs_is_reported_and_the_virtfn_links_are_counted(string numvfs)
    {
        string root = Copy("dgx-h100");
        File.WriteAllText(Path.Combine(Device(root, "0000:a1:00.0"), "sriov_numvfs"), numvfs + "\n");

        HostTopology t = Discover(root);

        SriovInfo sriov = t.FindDevice(PciAddress.Parse("0000:a1:00.0"))!.Sriov!;
        Assert.Equal(16, sriov.TotalVfs);
        Assert.Equal(2, sriov.NumVfs);
        Assert.Equal(2, sriov.VirtualFunctions.Count);
        DiscoveryWarning w = Assert.Single(t.Warnings, w => w.Path.EndsWith("0000:a1:00.0/sriov_numvfs", StringComparison.Ordinal));
        Assert.Equal(numvfs, w.RawValue);
        Assert.Contains("2 virtfn links counted instead", w.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sriov_numvfs_that_differs_from_the_virtfn_links_is_reported()
    {
        string root = Copy("dgx-h100");
        File.WriteAllText(Path.Combine(Device(root, "0000:a1:00.0"), "sriov_numvfs"), "4\n");

        HostTopology t = Discover(root);

        Assert.Equal(2, t.FindDevice(PciAddress.Parse("0000:a1:00.0"))!.Sriov!.VirtualFunctions.Count);
        AssertWarning(t, "0000:a1:00.0/sriov_numvfs", "is 4 but 2 virtfn links are present");
    }

    [Fact]
    public void A_device_in_a_vmd_domain_above_ffff_is_read()
    {
        string root = Copy("workstation");
        string dir = Path.Combine(root, "sys/devices/pci10000:00/10000:01:00.0");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "vendor"), "0x144d\n");
        File.WriteAllText(Path.Combine(dir, "device"), "0xa808\n");
        File.WriteAllText(Path.Combine(dir, "class"), "0x010802\n");
        File.CreateSymbolicLink(Device(root, "10000:01:00.0"), "../../../devices/pci10000:00/10000:01:00.0");

        HostTopology t = Discover(root);

        PciDevice nvme = t.FindDevice(new PciAddress(0x10000, 1, 0, 0))!;
        Assert.Equal("10000:01:00.0", nvme.Address.ToString());
        Assert.Equal(DeviceKind.Nvme, nvme.Kind);
        Assert.Equal(nvme.Address, t.PciDevices[^1].Address);
        Assert.DoesNotContain(t.Warnings, w => w.Path.Contains("10000:", StringComparison.Ordinal));
    }

    [Fact]
    public void A_driver_override_or_reset_method_with_control_characters_is_refused_with_a_warning()
    {
        string root = Copy("workstation");
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.0"), "driver_override"), "vfio-pci\u001b[2J\n");
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.0"), "reset_method"), "flr\0bus\n");

        HostTopology t = Discover(root);

        PciDevice gpu = t.FindDevice(PciAddress.Parse("0000:01:00.0"))!;
        Assert.Null(gpu.DriverOverride);
        Assert.Empty(gpu.ResetMethods);
        AssertWarning(t, "0000:01:00.0/driver_override", "control characters; ignored");
        AssertWarning(t, "0000:01:00.0/reset_method", "control characters; ignored");
    }

    [Fact]
    public void A_dangling_net_class_link_is_reported_and_not_listed()
    {
        string root = Copy("workstation");
        File.CreateSymbolicLink(Path.Combine(root, "sys/class/net/eth9"), "../../devices/pci0000:00/0000:00:01.1/0000:02:00.0/net/eth9");

        HostTopology t = Discover(root);

        Assert.DoesNotContain(t.NetDevices, n => n.Name == "eth9");
        Assert.Contains(t.NetDevices, n => n.Name == "enp2s0");
        AssertWarning(t, "class/net/eth9", "dangling link; ignored");
    }

    // --- precise warnings: the attribute's own file and value, non-regular files, raw bytes escaped ------------

    [Theory]
    [InlineData("vendor", "0xzzzz", "16-bit hex id")]
    [InlineData("device", "banana", "16-bit hex id")]
    [InlineData("class", "0x1234567", "24-bit hex class code")]
    public void A_bad_id_attribute_is_named_with_its_own_file_and_raw_value(string attribute, string value, string why)
    {
        string root = Copy("workstation");
        File.WriteAllText(Path.Combine(Device(root, "0000:01:00.0"), attribute), value + "\n");

        HostTopology t = Discover(root);

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0")));
        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/" + attribute, w.Path);
        Assert.Equal(value, w.RawValue);
        Assert.StartsWith($"failed to parse {attribute} for 0000:01:00.0: \"{value}\" is not a {why}", w.Message, StringComparison.Ordinal);
        Assert.EndsWith("; device skipped", w.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_vendor_file_is_named()
    {
        string root = Copy("workstation");
        File.Delete(Path.Combine(Device(root, "0000:01:00.0"), "vendor"));

        HostTopology t = Discover(root);

        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor", w.Path);
        Assert.Equal("vendor of 0000:01:00.0 is missing; device skipped", w.Message);
    }

    [Fact]
    public async Task A_fifo_in_place_of_an_attribute_is_reported_as_not_a_regular_file_not_as_an_empty_value()
    {
        string root = Copy("workstation");
        string numaNode = Path.Combine(Device(root, "0000:01:00.0"), "numa_node");
        await MakeFifo(numaNode);

        HostTopology t = Discover(root);

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.NumaNode);
        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.EndsWith("0000:01:00.0/numa_node", w.Path, StringComparison.Ordinal);
        Assert.Equal("not a regular file; ignored", w.Message);
    }

    [Fact]
    public async Task A_fifo_at_proc_cmdline_is_a_warning()
    {
        string root = Copy("workstation");
        await MakeFifo(Path.Combine(root, "proc/cmdline"));

        HostTopology t = Discover(root);

        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/proc/cmdline", w.Path);
        Assert.Equal("not a regular file; ignored", w.Message);
    }

    [Fact]
    public void Binary_garbage_in_an_attribute_is_quoted_with_control_and_non_utf8_bytes_escaped_and_cut_short()
    {
        string root = Copy("workstation");
        byte[] garbage = [0x1b, (byte)'[', (byte)'2', (byte)'J', 0xff, 0xfe, (byte)'\r', .. Enumerable.Repeat((byte)'7', 300)];
        File.WriteAllBytes(Path.Combine(Device(root, "0000:01:00.0"), "numa_node"), garbage);

        HostTopology t = Discover(root);

        DiscoveryWarning w = Assert.Single(t.Warnings);
        // Cut at MaxQuoted characters of the decoded value: ESC [ 2 J, "\xff", "\xfe" (4 each) and CR are 13.
        string expected = "\\x1b[2J\\xff\\xfe\\x0d" + new string('7', RawText.MaxQuoted - 13) + "…";
        Assert.Equal(expected, w.RawValue);
        Assert.Contains($"\"{expected}\" is not a number", w.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(w.Message, c => char.IsControl(c) || c == '\uFFFD');
    }

    [Fact]
    public void Raw_text_keeps_utf8_and_escapes_what_is_not()
    {
        Assert.Equal("0x10de", RawText.Decode("0x10de"u8));
        Assert.Equal("Grüße", RawText.Decode("Grüße"u8));
        Assert.Equal("a\\xc3b\\xff", RawText.Decode([(byte)'a', 0xc3, (byte)'b', 0xff]));
        Assert.Equal("tab\\x09nul\\x00del\\x7fc1\\x85", RawText.Quote("tab\tnul\0del\u007fc1\u0085"));
        Assert.Equal(new string('x', RawText.MaxQuoted) + "…", RawText.Quote(new string('x', RawText.MaxQuoted + 1)));
        Assert.Equal(new string('x', RawText.MaxQuoted), RawText.Quote(new string('x', RawText.MaxQuoted)));
    }

    private static async Task MakeFifo(string path)
    {
        File.Delete(path);
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]);
        await mkfifo.WaitForExitAsync();
        Assert.Equal(0, mkfifo.ExitCode);
    }
}
