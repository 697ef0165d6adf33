using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The MIG changes a profile step makes, through the NVML layer. Each asserts first (no change when the GPU already
/// is as asked), refuses while a process holds the GPU (naming it), reads the result back, and throws
/// <see cref="IOException"/> (<see cref="MigStepException"/>) on any failure.
/// </summary>
public interface IMigControl
{
    /// <summary>NVML calls that changed a GPU, for the "re-apply writes nothing" proof.</summary>
    int WriteCount { get; }

    /// <summary>Sets MIG mode; when the driver asks for a reset, resets only this GPU; reads the mode back.</summary>
    string SetMode(PciAddress gpu, bool enabled);

    /// <summary>
    /// Creates a GPU instance of <paramref name="profile"/> at <paramref name="placement"/> and its full-size compute
    /// instance, or exactly the compute instances of <paramref name="compute"/> (a rollback restoring what a step
    /// destroyed): read back, and nothing left behind when they cannot all be made.
    /// </summary>
    string Create(PciAddress gpu, string profile, MigPlacement placement, MigComputeLayout? compute = null);

    /// <summary>Destroys the instance of <paramref name="profile"/> at <paramref name="placement"/> (compute instances first); none there is no change.</summary>
    string Destroy(PciAddress gpu, string profile, MigPlacement placement);
}
