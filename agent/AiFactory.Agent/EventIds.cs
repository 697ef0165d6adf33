namespace AiFactory.Agent;

/// <summary>Every log event id of the daemon, in one place.</summary>
internal static class EventIds
{
    public const int Ready = 1;
    public const int Listening = 2;
    public const int Stopping = 3;
    public const int ReadOnlyMode = 4;
    public const int CapabilityMissing = 5;

    // Discovery and inventory: 200-299.
    public const int InventoryDiscovered = 200;
    public const int InventoryWarning = 201;
    public const int InventoryChanged = 202;
    public const int InventoryNoUevents = 203;
}
