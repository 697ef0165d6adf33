using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace AiFactory.Grpc.Tests.Support;

/// <summary>The result of one grpc-js client call (tests/interop/client.js).</summary>
internal sealed record NodeCallResult(StatusCode Code, string Details, JsonArray Responses);

/// <summary>Runs the grpc-js peer from tests/interop: one client call per process, or a long-lived server.</summary>
internal static class NodePeer
{
    public static async Task<NodeCallResult> CallAsync(JsonObject spec)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = RepositoryPaths.Interop,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("client.js");
        start.ArgumentList.Add(spec.ToJsonString());
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node client.js {spec.ToJsonString()} did not finish: {await stderr}");
        }

        string output = (await stdout).Trim();
        if (process.ExitCode != 0 || output.Length == 0)
        {
            throw new InvalidOperationException($"node client.js exited {process.ExitCode}: {await stderr}");
        }

        JsonNode result = JsonNode.Parse(output.Split('\n')[^1])!;
        return new NodeCallResult((StatusCode)result["code"]!.GetValue<int>(), result["details"]!.GetValue<string>(), result["responses"]!.AsArray());
    }

    /// <summary>Starts tests/interop/server.js; dispose to stop it.</summary>
    public static async Task<NodeServer> StartServerAsync(string unixSocket, int maxMessage = 4 * 1024 * 1024)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = RepositoryPaths.Interop,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string arg in new[] { "server.js", "--unix", unixSocket, "--tcp", "127.0.0.1:0", "--max-message", maxMessage.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        Process process = Process.Start(start)!;
        var server = new NodeServer(process);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        JsonNode ready = await server.Events.ReadAsync(timeout.Token);
        server.TcpPort = ready["tcpPort"]!.GetValue<int>();
        return server;
    }
}

/// <summary>A running grpc-js server; <see cref="Events"/> yields its {"event":...} lines.</summary>
internal sealed class NodeServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<JsonNode> _events = Channel.CreateUnbounded<JsonNode>();

    public NodeServer(Process process)
    {
        _process = process;
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is string line)
            {
                if (line.StartsWith('{'))
                {
                    _events.Writer.TryWrite(JsonNode.Parse(line)!);
                }
            }

            _events.Writer.TryComplete();
        });
        _ = process.StandardError.ReadToEndAsync();
    }

    public int TcpPort { get; set; }

    public ChannelReader<JsonNode> Events => _events.Reader;

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or IOException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}

internal static class JsonSpec
{
    public static JsonObject Of(string target, string method, JsonObject? request = null) =>
        new() { ["target"] = target, ["method"] = method, ["request"] = request ?? new JsonObject() };

    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);
}
