using System.Globalization;
using System.Net.Sockets;
using System.Net;
using AiFactory.Grpc.Client;
using AiFactory.Tests.Shared;
using Grpc.Health.V1;

namespace AiFactory.Metrics.Tests.EndToEnd;

/// <summary>The daemon's /metrics, scraped by a real Prometheus server and read back with PromQL.</summary>
public sealed class ScrapeByPrometheusSpecs
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_real_Prometheus_scrapes_the_agent_on_the_dgx_h100_fixture_and_PromQL_returns_its_series()
    {
        int metricsPort = AgentProcess.FreePort();
        string target = "127.0.0.1:" + metricsPort.ToString(CultureInfo.InvariantCulture);
        string fixture = HardwareFixtures.Root("dgx-h100");
        using AgentProcess agent = AgentProcess.Start(
            "--metrics-listen", target, "--log-level", "warning",
            "--sysfs-root", Path.Combine(fixture, "sys"), "--procfs-root", Path.Combine(fixture, "proc"));
        await agent.WaitForHttpAsync($"http://{target}/metrics", StartTimeout);

        // One gRPC call, so the RPC histogram has a series.
        using (GrpcChannel channel = GrpcChannel.ForUnixSocket(agent.Socket))
        {
            HealthCheckResponse health = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        }

        using PrometheusServer prometheus = PrometheusServer.Start("aifactory", target);
        var up = await prometheus.QueryUntilPresentAsync("up{job=\"aifactory\"} == 1", StartTimeout);
        var build = await prometheus.QueryUntilPresentAsync("aifactory_build_info", StartTimeout);
        var rpc = await prometheus.QueryUntilPresentAsync(
            "aifactory_rpc_duration_seconds_count{method=\"/grpc.health.v1.Health/Check\",code=\"OK\"}", StartTimeout);
        var agentCollector = await prometheus.QueryUntilPresentAsync("aifactory_scrape_collector_success{collector=\"agent\"}", StartTimeout);
        var gpus = await prometheus.QueryUntilPresentAsync("count(aifactory_pci_device_info{kind=\"gpu\"})", StartTimeout);
        var gpusPerNode = await prometheus.QueryUntilPresentAsync("count by (numa_node) (aifactory_pci_device_info{kind=\"gpu\"})", StartTimeout);
        var cpus = await prometheus.QueryUntilPresentAsync("sum(aifactory_numa_cpus)", StartTimeout);
        var failed = await prometheus.QueryUntilPresentAsync("sum(1 - aifactory_scrape_collector_success)", StartTimeout);
        var resident = await prometheus.QueryUntilPresentAsync("process_resident_memory_bytes{job=\"aifactory\"}", StartTimeout);
        var uptime = await prometheus.QueryUntilPresentAsync("time() - process_start_time_seconds{job=\"aifactory\"}", StartTimeout);

        Assert.Equal(1, Assert.Single(up).Value);
        Assert.Equal(1, Assert.Single(build).Value);
        Assert.Matches(@"^\d+\.\d+\.\d+", Assert.Single(build).Labels["version"]);
        Assert.Equal(1, Assert.Single(rpc).Value);
        Assert.Equal(1, Assert.Single(agentCollector).Value);
        Assert.Equal(8, Assert.Single(gpus).Value);
        Assert.Equal([4.0, 4.0], gpusPerNode.Select(g => g.Value));
        Assert.Equal(224, Assert.Single(cpus).Value);
        Assert.Equal(0, Assert.Single(failed).Value);
        Assert.InRange(Assert.Single(resident).Value, 1 << 20, 2L << 30);
        Assert.InRange(Assert.Single(uptime).Value, -2, 600); // started by this test (btime has whole seconds)
    }

    [Fact]
    public async Task The_endpoint_speaks_OpenMetrics_and_gzip_when_asked()
    {
        int metricsPort = AgentProcess.FreePort();
        string target = "127.0.0.1:" + metricsPort.ToString(CultureInfo.InvariantCulture);
        using AgentProcess agent = AgentProcess.Start("--metrics-listen", target, "--log-level", "warning");
        await agent.WaitForHttpAsync($"http://{target}/metrics", StartTimeout);
        using var http = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None });
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{target}/metrics");
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");

        using HttpResponseMessage response = await http.SendAsync(request);
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        using var gunzip = new System.IO.Compression.GZipStream(new MemoryStream(body), System.IO.Compression.CompressionMode.Decompress);
        string text = await new StreamReader(gunzip).ReadToEndAsync();

        Assert.Equal("application/openmetrics-text", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
        Assert.EndsWith("# EOF\n", text, StringComparison.Ordinal);
        Assert.Contains("aifactory_build_info{", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_metrics_port_already_in_use_stops_the_agent_with_a_message_naming_the_address()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        string taken = "127.0.0.1:" + ((IPEndPoint)squatter.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);

        using AgentProcess agent = AgentProcess.Start("--metrics-listen", taken, "--log-level", "warning");

        Assert.True(agent.WaitForExit(StartTimeout), "the agent kept running on a port already in use");
        Assert.Equal(69, agent.ExitCode);
        Assert.Contains("cannot listen: metrics-listen " + taken + ": ", agent.Output, StringComparison.Ordinal);
        Assert.Contains("address already in use", agent.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_failed_bind_logs_only_its_one_error_and_no_crit_lines()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        string taken = "127.0.0.1:" + ((IPEndPoint)squatter.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);

        using AgentProcess agent = AgentProcess.Start("--metrics-listen", taken);

        Assert.True(agent.WaitForExit(StartTimeout), "the agent kept running on a port already in use");
        Assert.Equal(69, agent.ExitCode);
        string[] lines = agent.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(lines, l => l.Contains(" crit ", StringComparison.Ordinal) || l.Contains(" error ", StringComparison.Ordinal));
        Assert.DoesNotContain("ObjectDisposedException", agent.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("TaskCanceledException", agent.Output, StringComparison.Ordinal);
        Assert.Single(lines, l => l.StartsWith("aifactory-agent: ", StringComparison.Ordinal));
    }

    [Fact]
    public void A_metrics_address_not_on_this_host_exits_69_naming_the_key_and_the_address()
    {
        // 10.255.255.1 is on no interface here (a test host with it would be a surprise; then this test says so).
        string address = "10.255.255.1:" + AgentProcess.FreePort().ToString(CultureInfo.InvariantCulture);

        using AgentProcess agent = AgentProcess.Start("--metrics-listen", address, "--log-level", "warning");

        Assert.True(agent.WaitForExit(StartTimeout), "the agent kept running on an address not on this host: " + agent.Output);
        Assert.Equal(69, agent.ExitCode);
        Assert.Contains("cannot listen: metrics-listen " + address + ": Cannot assign requested address", agent.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(" crit ", agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_grpc_listen_address_not_on_this_host_exits_69_naming_the_key()
    {
        string address = "10.255.255.1:" + AgentProcess.FreePort().ToString(CultureInfo.InvariantCulture);

        using AgentProcess agent = AgentProcess.Start("--listen", address, "--listen-plaintext", "insecure-any-address", "--metrics-listen", "off", "--log-level", "warning");

        Assert.True(agent.WaitForExit(StartTimeout), "the agent kept running on an address not on this host: " + agent.Output);
        Assert.Equal(69, agent.ExitCode);
        Assert.Contains("cannot listen: listen " + address + ": ", agent.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("flag")]
    [InlineData("environment")]
    public void An_empty_metrics_listen_is_refused_with_78_naming_the_key(string where)
    {
        using AgentProcess agent = where == "flag"
            ? AgentProcess.Start("--metrics-listen", string.Empty)
            : AgentProcess.Start(new Dictionary<string, string> { ["AIFACTORY_METRICS_LISTEN"] = string.Empty });

        Assert.True(agent.WaitForExit(StartTimeout), "the agent started with an empty metrics-listen");
        Assert.Equal(78, agent.ExitCode);
        Assert.Contains("metrics-listen: invalid value \"\": empty; give host:port, or 'off'", agent.Output, StringComparison.Ordinal);
    }
}
