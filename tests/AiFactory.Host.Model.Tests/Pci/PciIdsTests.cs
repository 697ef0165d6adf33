using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Tests.Pci;

public sealed class PciIdsTests
{
    [Theory]
    [InlineData(0x10de, 0x2330, 0x030200, DeviceKind.Gpu)]
    [InlineData(0x10de, 0x2230, 0x030000, DeviceKind.Gpu)]
    [InlineData(0x1002, 0x74a1, 0x120000, DeviceKind.Gpu)]
    [InlineData(0x10de, 0x22a3, 0x068000, DeviceKind.NvSwitch)]
    [InlineData(0x10de, 0x1aef, 0x040300, DeviceKind.GpuAudio)]
    [InlineData(0x8086, 0xa0c8, 0x040300, DeviceKind.Other)]
    [InlineData(0x15b3, 0x1021, 0x020700, DeviceKind.Nic)]
    [InlineData(0x144d, 0xa80a, 0x010802, DeviceKind.Nvme)]
    [InlineData(0x1000, 0xc030, 0x060400, DeviceKind.Bridge)]
    [InlineData(0x102b, 0x0536, 0x030000, DeviceKind.Other)]
    public void Devices_are_classified_from_class_code_and_ids(int vendor, int device, int classCode, DeviceKind expected) =>
        Assert.Equal(expected, PciIds.Classify((ushort)vendor, (ushort)device, (uint)classCode));

    [Fact]
    public void Known_gpus_have_model_names_and_unknown_ones_do_not()
    {
        Assert.Equal("H100 SXM5 80GB", PciIds.ModelName(0x10de, 0x2330));
        Assert.Equal("A100 SXM4 80GB", PciIds.ModelName(0x10de, 0x20b2));
        Assert.Equal("Instinct MI300X", PciIds.ModelName(0x1002, 0x74a1));
        Assert.Null(PciIds.ModelName(0x10de, 0xffff));
    }
}
