using System.Diagnostics;

namespace AiFactory.Metrics.Tests.Fixtures;

/// <summary>Runs Debian's promtool (installed by tests/setup.d/50-prometheus.sh).</summary>
internal static class Promtool
{
    /// <summary>
    /// Lint findings that dcgm-exporter compatibility forces on us: its label key "modelName" is camelCase, its
    /// counters have no _total suffix, and one is named ..._COUNTER. Stock dashboards need these names as they are.
    /// </summary>
    public static readonly string[] AcceptedDcgmFindings =
    [
        "label names should be written in 'snake_case' not 'camelCase'",
        "counter metrics should have \"_total\" suffix",
        "metric name should not include type 'counter'",
    ];

    public static string Path =>
        Environment.GetEnvironmentVariable("AIFACTORY_PROMTOOL") is { Length: > 0 } p ? p :
        File.Exists("/usr/bin/promtool") ? "/usr/bin/promtool" :
        throw new InvalidOperationException("promtool not found: run tests/setup.d/50-prometheus.sh (apt-get install prometheus)");

    /// <summary>Runs <c>promtool check metrics</c> on <paramref name="exposition"/>; returns exit code and output.</summary>
    public static (int ExitCode, string Output) CheckMetrics(string exposition)
    {
        var start = new ProcessStartInfo(Path, "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(exposition);
        process.StandardInput.Close();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>The findings that are neither about a DCGM_ series nor one of <see cref="AcceptedDcgmFindings"/>.</summary>
    public static List<string> UnexpectedFindings(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !(line.StartsWith("DCGM_FI_", StringComparison.Ordinal) && AcceptedDcgmFindings.Any(line.EndsWith)))
            .ToList();
}
