namespace GrpcLoad;

/// <summary>Receives the end of one call started by <see cref="IHealthClient.Start"/>.</summary>
internal interface ICallSink
{
    /// <param name="ok">The call returned a SERVING response with status OK.</param>
    /// <param name="endTimestamp">The <see cref="System.Diagnostics.Stopwatch"/> timestamp of the answer.</param>
    void Completed(bool ok, long endTimestamp);
}
