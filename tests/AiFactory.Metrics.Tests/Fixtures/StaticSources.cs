using AiFactory.Agent.Metrics.Sources;

namespace AiFactory.Metrics.Tests.Fixtures;

internal sealed class StaticNodeSource(NodeSnapshot snapshot) : INodeSnapshotSource
{
    public NodeSnapshot Read() => snapshot;
}

internal sealed class StaticGpuSource(GpuTelemetrySnapshot snapshot) : IGpuTelemetrySource
{
    public GpuTelemetrySnapshot Read() => snapshot;
}

internal sealed class StaticLeaseSource(IReadOnlyList<LeaseSnapshot> leases) : ILeaseSource
{
    public IReadOnlyList<LeaseSnapshot> Read() => leases;
}

internal sealed class FailingGpuSource : IGpuTelemetrySource
{
    public GpuTelemetrySnapshot Read() => throw new InvalidOperationException("NVML_ERROR_DRIVER_NOT_LOADED");
}
