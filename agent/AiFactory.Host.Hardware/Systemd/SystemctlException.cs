namespace AiFactory.Host.Hardware.Systemd;

/// <summary>A systemctl call that failed: the arguments, the exit status and what it printed.</summary>
public sealed class SystemctlException(string arguments, int exitCode, string output)
    : IOException($"systemctl {arguments} exited {exitCode}: {output.Trim()}")
{
    /// <summary>The exit status.</summary>
    public int ExitCode { get; } = exitCode;
}
