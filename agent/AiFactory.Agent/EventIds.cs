namespace AiFactory.Agent;

/// <summary>Every log event id of the daemon, in one place.</summary>
internal static class EventIds
{
    public const int Ready = 1;
    public const int Listening = 2;
    public const int Stopping = 3;
    public const int ReadOnlyMode = 4;
    public const int CapabilityMissing = 5;

    // profile 500-599
    public const int ProfileStep = 500;
    public const int ProfileApplied = 501;
    public const int ProfileFailed = 502;
    public const int ProfileRefused = 503;
    public const int ProfileRecovered = 504;
    public const int ProfileJournalDamaged = 505;
    public const int ProfileDrift = 506;
    public const int ProfileFaultKill = 507;
    public const int ProfileStartFailed = 508;
}
