namespace GrpcLoad;

/// <summary>The sink of the call made before a run.</summary>
internal sealed class FirstCall : ICallSink
{
    public ManualResetEventSlim Done { get; } = new();

    public bool Ok { get; private set; }

    public void Completed(bool ok, long endTimestamp)
    {
        Ok = ok;
        Done.Set();
    }
}
