namespace AiFactory.Agent;

/// <summary>Every log event id of the daemon, in one place.</summary>
internal static class EventIds
{
    public const int Ready = 1;
    public const int Listening = 2;
    public const int Stopping = 3;
    public const int ReadOnlyMode = 4;
    public const int CapabilityMissing = 5;

    // Leases: 600-699.
    public const int LeaseLedgerLoaded = 600;
    public const int LeaseLedgerEmpty = 601;
    public const int LeaseLedgerSetAside = 602;
    public const int LeaseGranted = 610;
    public const int LeaseEnded = 611;
    public const int LeaseRefused = 612;
    public const int LeaseDrift = 620;
    public const int LeaseAttached = 630;
    public const int LeaseDeviceBindingDeferred = 640;
}
