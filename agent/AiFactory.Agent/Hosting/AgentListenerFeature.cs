using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AiFactory.Agent.Hosting;

/// <summary>
/// A connection feature naming the listener a connection came in on, set by connection middleware on each Kestrel
/// endpoint and read by <see cref="RequestRouter"/> (Kestrel's request features fall back to the connection's). The
/// router trusts this tag only, never anything the client sends: the content type or the HTTP version.
/// </summary>
internal sealed class AgentListenerFeature
{
    private static readonly AgentListenerFeature GrpcFeature = new(AgentListener.Grpc);
    private static readonly AgentListenerFeature MetricsFeature = new(AgentListener.Metrics);

    private AgentListenerFeature(AgentListener listener)
    {
        Listener = listener;
    }

    public AgentListener Listener { get; }

    /// <summary>The feature for <paramref name="listener"/> (one shared, immutable instance each).</summary>
    public static AgentListenerFeature For(AgentListener listener) =>
        listener == AgentListener.Metrics ? MetricsFeature : GrpcFeature;

    /// <summary>Tags every connection accepted on <paramref name="listen"/> as coming in on <paramref name="listener"/>.</summary>
    public static void Tag(ListenOptions listen, AgentListener listener)
    {
        AgentListenerFeature feature = For(listener);
        listen.Use(next => connection =>
        {
            connection.Features.Set(feature);
            return next(connection);
        });
    }
}
