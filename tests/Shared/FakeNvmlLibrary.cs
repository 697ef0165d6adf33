using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AiFactory.Tests.Shared;

/// <summary>
/// The fake libnvidia-ml (tests/fake-nvml) for tests that open the agent's NVML binding in process: the library that
/// tests/setup.d/40-fake-nvml.sh built (AIFACTORY_FAKE_NVML), or one compiled here with gcc, and the environment the
/// fake reads its state from.
/// </summary>
public static partial class FakeNvmlLibrary
{
    private static readonly Lazy<string> Built = new(FindOrBuild);

    /// <summary>The library's path; built on first use when the setup step did not.</summary>
    public static string Path => Built.Value;

    /// <summary>The repository root (the folder holding AiFactory.Agent.sln).</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>
    /// Points the fake at one simulated server's files. The fake reads them with getenv, so this sets the process's
    /// C environment (<see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach getenv).
    /// <paramref name="identityPath"/>: a file of "&lt;gpu index&gt; uuid|busId &lt;value&gt;" lines the fake reads at every
    /// UUID and PCI-info call (a GPU that reports another identity after start); none when null.
    /// </summary>
    public static void Point(string statePath, string migStatePath, string eventsPath, string sysfsRoot, string? identityPath = null)
    {
        SetEnv("FAKE_NVML_STATE", statePath, 1);
        SetEnv("FAKE_NVML_MIG_STATE", migStatePath, 1);
        SetEnv("FAKE_NVML_EVENTS", eventsPath, 1);
        SetEnv("FAKE_NVML_SYSFS_ROOT", sysfsRoot, 1);
        SetEnv("FAKE_NVML_IDENTITY", identityPath ?? string.Empty, 1);
    }

    private static string FindOrBuild()
    {
        string? fromSetup = Environment.GetEnvironmentVariable("AIFACTORY_FAKE_NVML");
        if (!string.IsNullOrEmpty(fromSetup) && File.Exists(fromSetup))
        {
            return fromSetup;
        }

        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "aifactory-fake-nvml", "lib-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        string output = System.IO.Path.Combine(dir, "libnvidia-ml.so.1");
        string src = System.IO.Path.Combine(RepositoryRoot, "tests", "fake-nvml");
        using var gcc = Process.Start(new ProcessStartInfo("gcc", ["-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o", output, System.IO.Path.Combine(src, "fake_nvml.c"), System.IO.Path.Combine(src, "json.c"), "-lpthread"])
        {
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("cannot start gcc: run tests/setup.d/40-fake-nvml.sh");
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        return gcc.ExitCode == 0 ? output : throw new InvalidOperationException("gcc failed building the fake libnvidia-ml: " + errors);
    }

    private static string FindRepositoryRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(System.IO.Path.Join(dir, "AiFactory.Agent.sln")))
        {
            dir = System.IO.Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("repository root (AiFactory.Agent.sln) not found above " + AppContext.BaseDirectory);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
