using System.Globalization;
using AiFactory.Host.Hardware.Nvml;

namespace AiFactory.Agent.Gpu;

/// <summary>What a mig-parted config asks of one GPU: the wanted profiles, or why the GPU is left alone.</summary>
/// <param name="Profiles">The wanted multiset (empty: no MIG devices); null when <paramref name="Skipped"/> is set.</param>
/// <param name="Skipped">Why nothing is done on this GPU (no entry selects it, or MIG is off as wanted).</param>
internal sealed record MigPartedWanted(IReadOnlyList<string>? Profiles, string? Skipped);

/// <summary>
/// Resolves a mig-parted config (<c>mig-configs.NAME</c>) against one GPU the agent sees: <c>devices: all | [indexes]</c>
/// by NVML index, <c>device-filter</c> by the PCI device id NVML reports (0x233010DE). <c>mig-enabled</c> must match
/// the GPU's current MIG mode: a mode change is refused with the command that makes it (<c>aifactoryctl mig mode</c>),
/// since it needs an idle GPU and maybe a reset.
/// </summary>
internal static class MigPartedSelection
{
    /// <exception cref="FormatException">The file does not parse (message names the key and line).</exception>
    /// <exception cref="KeyNotFoundException">No such config name, or no such GPU.</exception>
    /// <exception cref="MigRefusedException">The entry wants a MIG mode the GPU is not in.</exception>
    public static MigPartedWanted Resolve(INvml api, string configText, string configName, string gpu, GpuInventory inventory)
    {
        MigPartedConfig config = MigPartedConfig.Parse(configText, "mig-parted config");
        (NvmlDevice device, _, _) = inventory.Resolve(gpu);
        uint count = api.DeviceCount;
        int index = -1;
        for (uint i = 0; i < count; i++)
        {
            if (api.GetDevice(i) == device)
            {
                index = (int)i;
                break;
            }
        }

        uint deviceId = api.GetPciInfo(device).PciDeviceId;
        string where = $"mig-configs.{configName}";
        var wanted = config.ForGpu(configName, index, deviceId);
        if (wanted is not (bool enabled, IReadOnlyList<string> profiles))
        {
            return new MigPartedWanted(null, $"{where}: no entry selects GPU {index} (device id 0x{deviceId.ToString("X8", CultureInfo.InvariantCulture)})");
        }

        bool current = api.GetMigMode(device) is (bool c, _) && c;
        if (enabled != current)
        {
            throw new MigRefusedException(
                $"{where}: mig-enabled: {(enabled ? "true" : "false")} for GPU {index}, whose MIG mode is {(current ? "enabled" : "disabled")}: " +
                $"change the mode first with `aifactoryctl mig mode {index} --{(enabled ? "enable" : "disable")}` (it needs an idle GPU and may need a reset)");
        }

        return enabled
            ? new MigPartedWanted(profiles, null)
            : new MigPartedWanted(null, $"{where}: mig-enabled: false and MIG is already disabled on GPU {index}");
    }
}
