using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AiFactory.Metrics.Tests.EndToEnd;

/// <summary>
/// A real Prometheus server (Debian's, from tests/setup.d/50-prometheus.sh) on 127.0.0.1 and a free port, with a
/// temp config (1 s scrape interval) and data directory, scraping the targets given.
/// </summary>
internal sealed class PrometheusServer : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private readonly StringBuilder _log = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private PrometheusServer(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Port = port;
        _process.ErrorDataReceived += (_, e) => { lock (_log) { _log.AppendLine(e.Data); } };
        _process.OutputDataReceived += (_, e) => { lock (_log) { _log.AppendLine(e.Data); } };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public int Port { get; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static string BinaryPath =>
        Environment.GetEnvironmentVariable("AIFACTORY_PROMETHEUS") is { Length: > 0 } p ? p :
        File.Exists("/usr/bin/prometheus") ? "/usr/bin/prometheus" :
        throw new InvalidOperationException("prometheus not found: run tests/setup.d/50-prometheus.sh (apt-get install prometheus)");

    public static PrometheusServer Start(string job, string target)
    {
        string dir = Path.Combine(Path.GetTempPath(), "aifactory-prometheus-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        string config = Path.Combine(dir, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: {job}
                static_configs:
                  - targets: ['{target}']
            """);
        int port = AgentProcess.FreePort();
        var start = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = dir,
        };
        foreach (string arg in new[]
        {
            "--config.file=" + config,
            "--storage.tsdb.path=" + Path.Combine(dir, "data"),
            "--web.listen-address=127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
            "--web.console.templates=" + dir,
            "--web.console.libraries=" + dir,
            "--log.level=warn",
        })
        {
            start.ArgumentList.Add(arg);
        }

        return new PrometheusServer(Process.Start(start)!, dir, port);
    }

    /// <summary>
    /// Runs an instant PromQL query until it returns at least one series (Prometheus needs a scrape or two first),
    /// then returns the result vector as (labels, value) pairs.
    /// </summary>
    public async Task<List<(Dictionary<string, string> Labels, double Value)>> QueryUntilPresentAsync(string promql, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"prometheus exited with {_process.ExitCode}: {Log}");
            }

            try
            {
                string url = $"http://127.0.0.1:{Port}/api/v1/query?query={Uri.EscapeDataString(promql)}";
                last = await _http.GetStringAsync(new Uri(url));
                var result = Parse(last);
                if (result.Count > 0)
                {
                    return result;
                }
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"query {promql} returned nothing within {timeout}: {last}\nprometheus log:\n{Log}");
    }

    /// <summary>The scrape health of the targets, from /api/v1/targets.</summary>
    public async Task<string> TargetsAsync() =>
        await _http.GetStringAsync(new Uri($"http://127.0.0.1:{Port}/api/v1/targets"));

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        finally
        {
            _process.Dispose();
            _http.Dispose();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static List<(Dictionary<string, string>, double)> Parse(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        var list = new List<(Dictionary<string, string>, double)>();
        JsonElement data = doc.RootElement.GetProperty("data");
        foreach (JsonElement item in data.GetProperty("result").EnumerateArray())
        {
            var labels = item.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty);
            double value = double.Parse(item.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
            list.Add((labels, value));
        }

        return list;
    }
}
