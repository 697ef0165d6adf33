using AiFactory.Agent.Configuration;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Services;

namespace AiFactory.Agent.Api;

/// <summary><c>aifactory.agent.v1.Agent</c>: version, and what the agent can and cannot do on this host.</summary>
internal sealed class AgentApiService
{
    private readonly AgentOptions _options;
    private readonly HostCapabilities _capabilities;
    private readonly long _startedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private readonly Leases.LeaseLedger? _ledger;

    /// <param name="ledger">The lease ledger: while a set-aside waits for an operator, STATUS lists <c>lease-ledger</c> as unavailable.</param>
    public AgentApiService(AgentOptions options, HostCapabilities capabilities, Leases.LeaseLedger? ledger = null)
    {
        _options = options;
        _capabilities = capabilities;
        _ledger = ledger;
    }

    public const string ServiceName = "aifactory.agent.v1.Agent";

    public ServiceDefinition Definition() =>
        ServiceDefinition.CreateBuilder(ServiceName)
            .AddUnary<GetVersionRequest, GetVersionResponse>("GetVersion", GetVersionRequest.Parser, (_, _) => Task.FromResult(GetVersion()))
            .AddUnary<GetStatusRequest, GetStatusResponse>("GetStatus", GetStatusRequest.Parser, (_, _) => Task.FromResult(GetStatus()))
            .Build();

    private static GetVersionResponse GetVersion() => new()
    {
        Version = BuildInfo.Version,
        Commit = BuildInfo.Commit,
        Runtime = BuildInfo.Runtime,
        Hostname = Environment.MachineName,
    };

    private GetStatusResponse GetStatus()
    {
        var response = new GetStatusResponse
        {
            Version = BuildInfo.Version,
            SysfsRoot = _options.SysfsRoot,
            ProcfsRoot = _options.ProcfsRoot,
            StateDir = _options.StateDir,
            ReadOnly = _capabilities.ReadOnly,
            StartedUnixMs = _startedUnixMs,
        };
        foreach (HostCapability c in _capabilities.All)
        {
            response.Capabilities.Add(new Capability { Name = c.Name, Available = c.Available, Reason = c.Reason });
        }

        if (_ledger is not null)
        {
            string? damaged = _ledger.Unacknowledged();
            response.Capabilities.Add(new Capability { Name = "lease-ledger", Available = damaged is null, Reason = damaged ?? string.Empty });
        }

        return response;
    }
}
