namespace AiFactory.Host.Hardware.Configure;

/// <summary>Loads kernel modules.</summary>
public interface IModuleLoader
{
    /// <summary>Loads <paramref name="module"/>; throws <see cref="IOException"/> when modprobe fails.</summary>
    void Load(string module);
}
