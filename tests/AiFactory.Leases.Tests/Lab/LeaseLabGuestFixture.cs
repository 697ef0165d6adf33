using System.Diagnostics;

namespace AiFactory.Leases.Tests.Lab;

/// <summary>
/// Boots the kernel-tier lab guest once (hardware-lab variant A under TCG: a real Debian kernel with an emulated
/// IOMMU; tests/lab/kernel) with one more device, QEMU's <c>ati-vga</c> (an ATI Rage 128 Pro, 1002:5046, display
/// class: a GPU to the agent's discovery, and one the guest's own aty128fb driver binds), and runs the lease
/// scenario tests/lab/kernel/leases/guest.sh with the published native-AOT agent and CLI inside. Keeps the serial
/// log for the tests to read.
/// </summary>
public sealed class LeaseLabGuestFixture : IDisposable
{
    public LeaseLabGuestFixture()
    {
        RepoRoot = FindRepoRoot();
        Lab = Path.Join(Path.GetTempPath(), "aif-lease-lab-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Lab);
        string publish = PublishDir();
        string vfiocheck = VfioCheck();
        string kernelDir = Path.Join(RepoRoot, "tests", "lab", "kernel");
        var env = new Dictionary<string, string>
        {
            ["AIFACTORY_LAB_MODULES"] = "aty128fb",
            ["AIFACTORY_LAB_QEMU_EXTRA"] = "-device pcie-root-port,id=rp6,bus=pcie.0,chassis=6,slot=6 -device ati-vga,model=rage128p,bus=rp6",
        };
        Run("bash", [Path.Join(kernelDir, "build-initramfs.sh"), Lab, publish, vfiocheck, Path.Join(kernelDir, "leases")], env, TimeSpan.FromMinutes(3));
        LogPath = Path.Join(Lab, "guest.log");
        var clock = Stopwatch.StartNew();
        Run("bash", [Path.Join(kernelDir, "run-guest.sh"), Path.Join(Lab, "initramfs.cpio.gz"), LogPath], env, TimeSpan.FromMinutes(6));
        BootSeconds = clock.Elapsed.TotalSeconds;
        Log = File.ReadAllText(LogPath);
        string copy = Path.Join(RepoRoot, "artifacts", "lab");
        Directory.CreateDirectory(copy);
        File.WriteAllText(Path.Join(copy, "lease-guest.log"), Log);
    }

    public string RepoRoot { get; }

    public string Lab { get; }

    public string LogPath { get; }

    public string Log { get; }

    public double BootSeconds { get; }

    /// <summary>The CHECK line's result: "ok" or the failure text; null when the scenario never printed it.</summary>
    public string? Check(string name)
    {
        foreach (string line in Log.Split('\n'))
        {
            string l = line.TrimEnd('\r');
            if (l.StartsWith($"CHECK {name} ", StringComparison.Ordinal))
            {
                return l[($"CHECK {name} ".Length)..];
            }
        }

        return null;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Lab, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string PublishDir()
    {
        string? dir = Environment.GetEnvironmentVariable("AIFACTORY_PUBLISH_DIR");
        if (string.IsNullOrEmpty(dir))
        {
            dir = Path.Join(RepoRoot, "artifacts", "publish", "linux-x64");
            if (!File.Exists(Path.Join(dir, "aifactory-agent")))
            {
                // The guest has no .NET runtime: the kernel tier needs the native-AOT binaries, so publish them.
                Run("bash", [Path.Join(RepoRoot, "tools", "publish-aot.sh"), "linux-x64"], [], TimeSpan.FromMinutes(10));
            }
        }

        if (!File.Exists(Path.Join(dir, "aifactory-agent")) || !File.Exists(Path.Join(dir, "aifactoryctl")))
        {
            throw new InvalidOperationException($"no native-AOT aifactory-agent/aifactoryctl in {dir} (run tools/publish-aot.sh)");
        }

        return dir;
    }

    private string VfioCheck()
    {
        string? built = Environment.GetEnvironmentVariable("AIFACTORY_LAB_VFIOCHECK");
        if (!string.IsNullOrEmpty(built) && File.Exists(built))
        {
            return built;
        }

        string output = Path.Join(Lab, "vfiocheck");
        Run("gcc", ["-static", "-O2", "-o", output, Path.Join(RepoRoot, "tests", "lab", "kernel", "vfiocheck.c")], [], TimeSpan.FromMinutes(2));
        return output;
    }

    private static void Run(string file, string[] args, Dictionary<string, string> env, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        foreach ((string key, string value) in env)
        {
            info.Environment[key] = value;
        }

        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"cannot run {file} (tests/setup.d/70-qemu.sh installs qemu-system-x86, linux-image-amd64, busybox-static, cpio, kmod, gcc): {ex.Message}", ex);
        }

        using (process)
        {
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}");
            }

            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}{stdout.Result}");
            }
        }
    }

    private static string FindRepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Join(dir, "AiFactory.Agent.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("cannot find the repository root (AiFactory.Agent.sln) above " + AppContext.BaseDirectory);
    }
}
