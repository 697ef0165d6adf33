namespace AiFactory.Host.Hardware.Uevents;

/// <summary>
/// One kernel uevent: <c>ACTION@DEVPATH</c> and its <c>KEY=VALUE</c> environment
/// (the same variables as <c>/sys/.../uevent</c> plus ACTION, DEVPATH, SUBSYSTEM, SEQNUM).
/// </summary>
/// <param name="Action">add, remove, change, move, online, offline, bind, unbind.</param>
/// <param name="DevPath">The sysfs path below /sys, e.g. <c>/devices/pci0000:00/0000:00:02.0</c>.</param>
/// <param name="Properties">The environment variables, in datagram order; the last one wins on a repeated key.</param>
public sealed record Uevent(string Action, string DevPath, IReadOnlyDictionary<string, string> Properties)
{
    /// <summary>The <c>SUBSYSTEM</c> variable (pci, net, cpu, ...); null when the datagram has none.</summary>
    public string? Subsystem => Properties.TryGetValue("SUBSYSTEM", out string? s) ? s : null;
}
