namespace AiFactory.Host.Model.Pci;

/// <summary>
/// The one table of PCI ids this agent names and classifies: GPUs (NVIDIA, AMD), NVSwitches, the NICs we pair
/// with GPUs. Names follow the PCI ID Repository (pci-ids.ucw.cz) and the vendors' product pages; anything not
/// listed still works, it is only shown by its ids and classified by its class code.
/// </summary>
public static class PciIds
{
    /// <summary>NVIDIA's vendor id.</summary>
    public const ushort Nvidia = 0x10de;

    /// <summary>AMD/ATI's graphics vendor id.</summary>
    public const ushort Amd = 0x1002;

    /// <summary>Mellanox (NVIDIA networking) vendor id.</summary>
    public const ushort Mellanox = 0x15b3;

    /// <summary>Intel's vendor id.</summary>
    public const ushort Intel = 0x8086;

    private static readonly Dictionary<uint, string> Names = new()
    {
        // NVIDIA data-centre GPUs
        [Key(Nvidia, 0x2330)] = "H100 SXM5 80GB",
        [Key(Nvidia, 0x2331)] = "H100 PCIe",
        [Key(Nvidia, 0x2321)] = "H100 NVL",
        [Key(Nvidia, 0x2324)] = "H800",
        [Key(Nvidia, 0x2335)] = "H200 SXM 141GB",
        [Key(Nvidia, 0x233b)] = "H200 NVL",
        [Key(Nvidia, 0x2342)] = "GH200 120GB",
        [Key(Nvidia, 0x2348)] = "GH200 144G HBM3e",
        [Key(Nvidia, 0x2901)] = "B200",
        [Key(Nvidia, 0x2941)] = "GB200",
        [Key(Nvidia, 0x20b0)] = "A100 SXM4 40GB",
        [Key(Nvidia, 0x20b2)] = "A100 SXM4 80GB",
        [Key(Nvidia, 0x20b5)] = "A100 PCIe 80GB",
        [Key(Nvidia, 0x20f1)] = "A100 PCIe 40GB",
        [Key(Nvidia, 0x20b7)] = "A30",
        [Key(Nvidia, 0x2236)] = "A10",
        [Key(Nvidia, 0x25b6)] = "A16",
        [Key(Nvidia, 0x26b5)] = "L40",
        [Key(Nvidia, 0x26b9)] = "L40S",
        [Key(Nvidia, 0x27b8)] = "L4",
        [Key(Nvidia, 0x1db4)] = "V100 PCIe 16GB",
        [Key(Nvidia, 0x1db5)] = "V100 SXM2 32GB",
        [Key(Nvidia, 0x1eb8)] = "T4",
        // NVIDIA workstation and consumer GPUs
        [Key(Nvidia, 0x2230)] = "RTX A6000",
        [Key(Nvidia, 0x26b1)] = "RTX 6000 Ada Generation",
        [Key(Nvidia, 0x2684)] = "GeForce RTX 4090",
        [Key(Nvidia, 0x2204)] = "GeForce RTX 3090",
        // NVIDIA NVSwitch
        [Key(Nvidia, 0x1af1)] = "NVSwitch (A100 generation)",
        [Key(Nvidia, 0x22a3)] = "NVSwitch (H100 generation)",
        // NVIDIA HD-audio functions of GPUs
        [Key(Nvidia, 0x1aef)] = "GA102 High Definition Audio",
        [Key(Nvidia, 0x22ba)] = "AD102 High Definition Audio",
        // AMD Instinct
        [Key(Amd, 0x738c)] = "Instinct MI100",
        [Key(Amd, 0x7408)] = "Instinct MI250X",
        [Key(Amd, 0x740c)] = "Instinct MI250X / MI250",
        [Key(Amd, 0x740f)] = "Instinct MI210",
        [Key(Amd, 0x74a1)] = "Instinct MI300X",
        [Key(Amd, 0x74a5)] = "Instinct MI325X",
        // NVIDIA (Mellanox) networking
        [Key(Mellanox, 0x101b)] = "ConnectX-6",
        [Key(Mellanox, 0x101c)] = "ConnectX-6 Virtual Function",
        [Key(Mellanox, 0x101d)] = "ConnectX-6 Dx",
        [Key(Mellanox, 0x101e)] = "ConnectX Family Virtual Function",
        [Key(Mellanox, 0x1021)] = "ConnectX-7",
        [Key(Mellanox, 0x1023)] = "ConnectX-8",
        [Key(Mellanox, 0xa2dc)] = "BlueField-3",
    };

    private static readonly HashSet<ushort> GpuVendors = [Nvidia, Amd];

    /// <summary>The model name for a vendor/device pair, or null when the table does not list it.</summary>
    public static string? ModelName(ushort vendor, ushort device) =>
        Names.TryGetValue(Key(vendor, device), out string? name) ? name : null;

    /// <summary>
    /// What a function is, from its class code and ids: GPUs are display (0x03) or processing-accelerator (0x12)
    /// functions of a GPU vendor; NVSwitches by id; a GPU vendor's HD-audio function (0x0403) is the GPU's companion.
    /// </summary>
    public static DeviceKind Classify(ushort vendor, ushort device, uint classCode)
    {
        byte baseClass = (byte)(classCode >> 16);
        byte subClass = (byte)(classCode >> 8);
        if (vendor == Nvidia && device is 0x1af1 or 0x22a3)
        {
            return DeviceKind.NvSwitch;
        }

        return (baseClass, subClass) switch
        {
            (0x03, _) when GpuVendors.Contains(vendor) => DeviceKind.Gpu,
            (0x12, _) when GpuVendors.Contains(vendor) => DeviceKind.Gpu,
            (0x04, 0x03) when GpuVendors.Contains(vendor) => DeviceKind.GpuAudio,
            (0x02, _) => DeviceKind.Nic,
            (0x01, 0x08) => DeviceKind.Nvme,
            (0x01, _) => DeviceKind.Storage,
            (0x06, 0x04) or (0x06, 0x09) => DeviceKind.Bridge,
            _ => DeviceKind.Other,
        };
    }

    private static uint Key(ushort vendor, ushort device) => ((uint)vendor << 16) | device;
}
