namespace AiFactory.Agent;

/// <summary>Every log event id of the daemon, in one place.</summary>
internal static class EventIds
{
    // 100-199 are taken by AiFactory.Grpc.Server (GrpcServer's own [LoggerMessage] ids), which cannot reference this file.

    public const int Ready = 1;
    public const int Listening = 2;
    public const int Stopping = 3;
    public const int ReadOnlyMode = 4;
    public const int CapabilityMissing = 5;
    public const int StartupPagesDropped = 6;
    public const int StartupPagesKept = 7;
    public const int NotifySocketUnusable = 8;
    public const int NotificationLost = 9;
    public const int ClientCertificateRejected = 10;
    public const int ClientCertificateAccepted = 11;
    public const int ClientCertificateRevocationReloaded = 12;
    public const int ClientCertificateRevocationReloadRefused = 13;
    public const int ClientCertificateRevocationOutOfDate = 14;
    public const int IdleMemoryTrimmed = 20;

    // Discovery and inventory: 200-299.
    public const int InventoryDiscovered = 200;
    public const int InventoryWarning = 201;
    public const int InventoryChanged = 202;
    public const int InventoryNoUevents = 203;
    // nvml 300-399
    public const int GpuEvent = 300;
    public const int GpuWatchFailed = 301;
    public const int GpuWatcherStopped = 302;
    public const int GpuUnhealthyAtStart = 303;
    public const int GpuEventWaitFailed = 304;
    public const int GpuAmbiguous = 305;
    public const int GpuAmbiguityCleared = 306;
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
    public const int ProfileRollbackFailed = 520;
    public const int ProfileStartWarning = 521;
    public const int ProfileStartStatus = 522;

    // Metrics: 400-499.
    public const int MetricsCollectorFailed = 400;
    public const int MetricsAerUnparsable = 401;
    // Leases: 600-699.
    public const int LeaseLedgerLoaded = 600;
    public const int LeaseLedgerEmpty = 601;
    public const int LeaseLedgerSetAside = 602;
    public const int LeaseJournalTornTail = 603;
    public const int LeaseLedgerCompactionFailed = 604;
    public const int LeaseGrantDropNotStored = 605;
    public const int LeaseJournalSetAside = 608;
    public const int LeaseLedgerUnacknowledged = 609;
    public const int LeaseGranted = 610;
    public const int LeaseEnded = 611;
    public const int LeaseRefused = 612;
    public const int LeaseExpiryFailed = 613;
    public const int LeaseDrift = 620;
    public const int LeaseUnchecked = 621;
    public const int LeaseProcessesUnchecked = 622;
    public const int LeaseUnleasedDevice = 623;
    public const int LeaseAttached = 630;
    public const int LeaseAttachUndone = 631;
    public const int LeaseAttachUndoFailed = 632;
    public const int LeaseExpiryDeferred = 633;
    public const int LeaseDetached = 634;
    public const int LeaseDetachFailed = 635;
    public const int LeaseDeviceBindingDeferred = 640;
    public const int LeaseReservedCpusKept = 650;
    public const int LeaseReservedCpusUnknown = 651;
}
