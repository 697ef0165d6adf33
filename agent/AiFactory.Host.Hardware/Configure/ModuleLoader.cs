using System.Diagnostics;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>Loads a kernel module with <c>modprobe</c> (on PATH unless <paramref name="executable"/> names one).</summary>
public sealed class ModuleLoader(string executable = "modprobe") : IModuleLoader
{
    /// <inheritdoc />
    public void Load(string module)
    {
        var info = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(module);
        using Process process = Process.Start(info) ?? throw new IOException($"could not start {executable}");
        string err = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new IOException($"{executable} {module} exited {process.ExitCode}: {err.Trim()}");
        }
    }
}
