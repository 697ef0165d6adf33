namespace AiFactory.Packaging.Tests;

/// <summary>
/// One boot of the Debian guest with systemd as PID 1 (tests/lab/guest-systemd/run.sh): install, restart,
/// host checks through forwarded ports, kill -9, stop, upgrade, remove and purge, all in that boot. Run once,
/// on first use, and shared by every guest test; each test asserts its own facts from results.env.
/// </summary>
public sealed class GuestRun
{
    private readonly Lock _gate = new();
    private GuestResults? _results;

    public GuestResults Results(BuiltPackages packages)
    {
        lock (_gate)
        {
            return _results ??= Boot(packages);
        }
    }

    private static GuestResults Boot(BuiltPackages packages)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("the guest tests need root (debootstrap, QEMU's 9p export): run them through tools/test.sh as root");
        }

        foreach (string tool in new[] { "qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4" })
        {
            if (!Tool.Exists(tool) && !File.Exists("/usr/sbin/" + tool))
            {
                throw new InvalidOperationException($"{tool} is missing: tests/setup.d/60-packaging.sh installs it");
            }
        }

        string output = Path.Combine(packages.Work, "guest");
        ToolResult run = Tool.Run(
            Repository.PathOf("tests/lab/guest-systemd/run.sh"),
            ["--old", packages.Deb, "--new", packages.NextDeb, "--ctl", Path.Combine(packages.PublishDir, "aifactoryctl"),
             "--lab", Repository.PathOf("artifacts/lab/guest-systemd"), "--out", output],
            timeout: TimeSpan.FromMinutes(25));
        string resultsFile = Path.Combine(output, "results.env");
        if (run.ExitCode != 0 || !File.Exists(resultsFile))
        {
            throw new InvalidOperationException($"the guest run failed ({run.ExitCode}):\n{run.Output}");
        }

        // Keep the evidence of the last run where a developer finds it (artifacts/ is not committed).
        string keep = Repository.PathOf("artifacts/lab/guest-systemd-last");
        if (Directory.Exists(keep))
        {
            Directory.Delete(keep, recursive: true);
        }

        Directory.CreateDirectory(keep);
        foreach (string file in Directory.GetFiles(output))
        {
            if (!file.EndsWith(".deb", StringComparison.Ordinal))
            {
                File.Copy(file, Path.Combine(keep, Path.GetFileName(file)), overwrite: true);
            }
        }

        return new GuestResults(output, File.ReadAllLines(resultsFile));
    }
}

/// <summary>The facts the guest scenario and the host recorded (KEY=VALUE), and the evidence files.</summary>
public sealed class GuestResults
{
    private readonly Dictionary<string, string> _facts = new(StringComparer.Ordinal);

    public GuestResults(string directory, IEnumerable<string> lines)
    {
        Directory = directory;
        foreach (string line in lines)
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                _facts[line[..eq]] = line[(eq + 1)..];
            }
        }
    }

    public string Directory { get; }

    /// <summary>A recorded fact; a missing one fails the test with the facts that are there.</summary>
    public string this[string key] =>
        _facts.TryGetValue(key, out string? value)
            ? value
            : throw new Xunit.Sdk.XunitException($"the guest run recorded no {key}; it recorded: {string.Join(", ", _facts.Select(f => f.Key + "=" + f.Value))}");

    public double Number(string key) => double.Parse(this[key], System.Globalization.CultureInfo.InvariantCulture);

    public string Evidence(string file) => File.ReadAllText(System.IO.Path.Combine(Directory, file));
}
