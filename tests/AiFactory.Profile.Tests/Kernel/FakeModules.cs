using AiFactory.Host.Hardware.Configure;

namespace AiFactory.Profile.Tests.Kernel;

/// <summary>modprobe in the fake tree: loading a driver makes its bus/pci/drivers directory appear.</summary>
internal sealed class FakeModules(FakeSysfs fs) : IModuleLoader
{
    public List<string> Loaded { get; } = [];

    public void Load(string module)
    {
        Loaded.Add(module);
        Directory.CreateDirectory(fs.P("bus/pci/drivers/" + module));
    }
}
