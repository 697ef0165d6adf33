namespace AiFactory.Agent;

/// <summary>Every log event id of the daemon, in one place.</summary>
internal static class EventIds
{
    public const int Ready = 1;
    public const int Listening = 2;
    public const int Stopping = 3;
    public const int ReadOnlyMode = 4;
    public const int CapabilityMissing = 5;

    // Metrics: 400-499.
    public const int MetricsCollectorFailed = 400;
}
