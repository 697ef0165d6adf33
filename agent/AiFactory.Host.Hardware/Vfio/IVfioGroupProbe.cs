namespace AiFactory.Host.Hardware.Vfio;

/// <summary>Asks the kernel whether a VFIO group is viable (a fake in fixture tests, which have no /dev/vfio).</summary>
public interface IVfioGroupProbe
{
    /// <summary>The status of group <paramref name="group"/>.</summary>
    VfioGroupStatus GetStatus(int group);
}
