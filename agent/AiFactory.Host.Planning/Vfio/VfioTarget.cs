using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Planning.Vfio;

/// <summary>
/// What may not go to vfio-pci, as the node profile's vfio section and the lease planner (which binds a leased
/// device's whole IOMMU group) both judge it.
/// </summary>
internal static class VfioTarget
{
    /// <summary>
    /// A bridge (a host bridge, a root or switch port: class 0x06, or classified as one): the devices behind it would
    /// lose their path to the host, so it is never bound, and an IOMMU group holding one is never bound whole.
    /// </summary>
    public static bool IsBridge(PciDevice device) => device.Kind == DeviceKind.Bridge || device.BaseClass == 0x06;

    /// <summary>
    /// The live VFs of <paramref name="device"/> as an SR-IOV PF (its <c>sriov_numvfs</c>), 0 when it has none:
    /// unbinding a PF with live VFs from its driver destroys them, whoever uses them.
    /// </summary>
    public static int LiveVfs(PciDevice device) => device.Sriov?.NumVfs ?? 0;
}
