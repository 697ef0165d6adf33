using AiFactory.Grpc.Client;
using Grpc.Health.V1;

namespace GrpcLoad;

/// <summary>One <c>grpc.health.v1.Health/Check</c> call through our client, the call every mode makes.</summary>
internal sealed class HealthCheck(GrpcChannel channel)
{
    private const string Method = "/grpc.health.v1.Health/Check";
    private readonly HealthCheckRequest _request = new();

    public Task<HealthCheckResponse> CallAsync() => channel.UnaryAsync(Method, _request, HealthCheckResponse.Parser);
}
