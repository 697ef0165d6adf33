using System.CommandLine;
using AiFactory.Grpc.Client;

namespace AiFactory.Cli;

/// <summary>Options every verb takes: where the agent is, how long to wait, and JSON output.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string> Socket = new("--socket")
    {
        Description = "the agent's Unix socket",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AIFACTORY_SOCKET") ?? "/run/aifactory/agent.sock",
        Recursive = true,
    };

    public static readonly Option<string?> Address = new("--address")
    {
        Description = "the agent's TCP address instead of the socket (https://host:port, or http:// for a plaintext test listener)",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json") { Description = "print JSON for scripts", Recursive = true };

    public static readonly Option<double> Timeout = new("--timeout")
    {
        Description = "seconds to wait for the agent (default 10)",
        DefaultValueFactory = _ => 10,
        Recursive = true,
    };

    public static readonly Option<bool> Insecure = new("--insecure")
    {
        Description = "with an https address, do not verify the agent's certificate",
        Recursive = true,
    };

    public static GrpcChannel OpenChannel(ParseResult parse)
    {
        string? address = parse.GetValue(Address);
        if (address is null)
        {
            return GrpcChannel.ForUnixSocket(parse.GetValue(Socket)!);
        }

        var options = new GrpcChannelOptions();
        if (parse.GetValue(Insecure))
        {
            options.ServerCertificateValidation = (_, _, _, _) => true;
        }

        return GrpcChannel.ForAddress(new Uri(address), options);
    }

    public static CallOptions Call(ParseResult parse, CancellationToken ct) =>
        new(DateTime.UtcNow.AddSeconds(parse.GetValue(Timeout)), ct);
}
