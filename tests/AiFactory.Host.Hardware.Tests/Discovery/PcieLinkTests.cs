using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>
/// PCIe links judged on the workstation fixture (RTX A6000 idle at 2.5 GT/s of 16 behind an 8 GT/s root port, an
/// Intel NIC, an NVMe drive), with single link attributes changed for each case.
/// </summary>
public sealed class PcieLinkTests : IDisposable
{
    private const string GpuPath = "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0";
    private const string NvmePath = "sys/devices/pci0000:00/0000:00:1d.0/0000:03:00.0";
    private const string NvmePortPath = "sys/devices/pci0000:00/0000:00:1d.0";

    private readonly string _root = HardwareFixtures.FreshCopy("workstation");

    public void Dispose() => Directory.Delete(_root, true);

    [Fact]
    public void Discovery_gives_each_link_the_maximum_of_the_port_above_it()
    {
        PcieLink gpu = Device("0000:01:00.0").Link!;

        Assert.Equal((16.0, 8.0, 8.0), (gpu.MaxSpeedGts!.Value, gpu.PortMaxSpeedGts!.Value, gpu.CapableSpeedGts!.Value));
        Assert.Equal(16, gpu.PortMaxWidth);
    }

    [Fact]
    public void An_idle_GPU_at_a_lower_PCIe_generation_is_not_degraded_but_its_speed_is_reported_reduced()
    {
        PciDevice gpu = Device("0000:01:00.0");

        Assert.False(gpu.IsLinkDegraded);
        Assert.True(gpu.Link!.IsSpeedReduced);
    }

    [Fact]
    public void A_GPU_that_trained_with_fewer_lanes_is_degraded()
    {
        Write(GpuPath, "current_link_width", "8");

        Assert.True(Device("0000:01:00.0").IsLinkDegraded);
    }

    [Fact]
    public void An_NVMe_drive_slower_than_it_and_its_port_support_is_degraded()
    {
        Write(NvmePath, "current_link_speed", "2.5 GT/s PCIe");

        Assert.True(Device("0000:03:00.0").IsLinkDegraded);
    }

    [Fact]
    public void An_NVMe_drive_in_a_slower_slot_is_not_degraded()
    {
        Write(NvmePath, "max_link_speed", "16.0 GT/s PCIe");
        Write(NvmePortPath, "max_link_speed", "8.0 GT/s PCIe");

        PciDevice nvme = Device("0000:03:00.0");

        Assert.False(nvme.IsLinkDegraded);
        Assert.False(nvme.Link!.IsSpeedReduced);
    }

    [Fact]
    public void A_root_port_wider_than_the_NIC_below_it_is_not_reported_degraded()
    {
        // 0000:00:01.1 is an x4 root port with an x1 NIC: the link below it is judged at the NIC, which is at its maximum.
        Assert.False(Device("0000:00:01.1").IsLinkDegraded);
        Assert.False(Device("0000:02:00.0").IsLinkDegraded);
    }

    private PciDevice Device(string address)
    {
        HostTopology t = new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc")).Discover();
        return t.FindDevice(PciAddress.Parse(address))!;
    }

    private void Write(string device, string attribute, string value) =>
        File.WriteAllText(Path.Combine(_root, device, attribute), value + "\n");
}
