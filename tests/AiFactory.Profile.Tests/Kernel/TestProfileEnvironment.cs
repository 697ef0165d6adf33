using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Systemd;

namespace AiFactory.Profile.Tests.Kernel;

/// <summary>
/// The environment the profile manager runs in under test: the fake sysfs tree written through the kernel simulator,
/// fake vfio groups and modules, the fake systemctl, and no configured profile. Tests change what they need with
/// <c>with</c> (MIG, a procfs root, a probe timeout).
/// </summary>
internal static class TestProfileEnvironment
{
    public static ProfileEnvironment For(FakeSysfs fs, FakeSystemctl systemctl, ISysfsWriter? writer = null) => new()
    {
        Sysfs = new SysfsTree(fs.Root),
        SysfsWriter = writer ?? new KernelSimulator(fs),
        StateDir = fs.StateDir,
        Groups = new FakeVfioGroups(fs),
        Systemctl = new Systemctl(systemctl.Executable),
        Modules = new FakeModules(fs),
        VfioOverridesDir = Path.Join(fs.StateDir, "vfio-overrides.d"),
        ConfigProfilePath = Path.Join(fs.StateDir, "absent.yaml"),
    };
}
