using System.Diagnostics;

namespace AiFactory.Host.Hardware.Systemd;

/// <summary>Runs <c>systemctl</c> (found on PATH unless <paramref name="executable"/> names one).</summary>
public sealed class Systemctl(string executable = "systemctl") : ISystemctl
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    /// <inheritdoc />
    public string GetAllowedCpus(string unit) => Run(["show", "-p", "AllowedCPUs", "--value", "--", unit]).Output.Trim();

    /// <inheritdoc />
    public void SetAllowedCpus(string unit, string value) => Run(["set-property", "--runtime", "--", unit, "AllowedCPUs=" + value]);

    /// <inheritdoc />
    public bool IsActive(string unit) => Run(["is-active", "--quiet", "--", unit], check: false).ExitCode == 0;

    /// <inheritdoc />
    public void Stop(string unit) => Run(["stop", "--", unit]);

    /// <inheritdoc />
    public void Start(string unit) => Run(["--no-block", "start", "--", unit]);

    private (int ExitCode, string Output) Run(string[] arguments, bool check = true)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using Process process = Process.Start(info) ?? throw new SystemctlException(string.Join(' ', arguments), -1, "could not start " + executable);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new SystemctlException(string.Join(' ', arguments), -1, $"no answer in {Timeout.TotalSeconds} s");
        }

        string output = stdout.GetAwaiter().GetResult();
        if (check && process.ExitCode != 0)
        {
            throw new SystemctlException(string.Join(' ', arguments), process.ExitCode, stderr.GetAwaiter().GetResult() + output);
        }

        return (process.ExitCode, output);
    }
}
