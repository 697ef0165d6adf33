namespace GrpcLoad;

/// <summary>
/// One call's HTTP/2 stream on a <see cref="RawH2Connection"/>: what has come back so far, and the check that
/// decides whether the call was OK. Pooled per connection; touched only under the connection's lock or by its
/// reader thread.
/// </summary>
internal sealed class RawStream
{
    /// <summary>
    /// The only answer counted as OK: a gRPC frame (not compressed, length 2) holding HealthCheckResponse
    /// { status: SERVING } (field 1, varint 1).
    /// </summary>
    private static ReadOnlySpan<byte> ServingFrame => [0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x01];

    private readonly byte[] _data = new byte[8];

    public ICallSink? Sink { get; private set; }

    public int Id { get; private set; }

    /// <summary>The response headers have arrived (the next HEADERS frame is the trailers).</summary>
    public bool HeadersSeen { get; private set; }

    private int _httpStatus;
    private int _dataLength;
    private string? _error;

    public void Reset(ICallSink sink, int id)
    {
        Sink = sink;
        Id = id;
        HeadersSeen = false;
        _httpStatus = 0;
        _dataLength = 0;
        _error = null;
    }

    public void Fail(string error) => _error ??= error;

    public void OnHeaders(in ResponseHeaderFields fields)
    {
        HeadersSeen = true;
        _httpStatus = fields.Status;
    }

    public void OnData(ReadOnlySpan<byte> payload)
    {
        if (_dataLength + payload.Length > _data.Length)
        {
            Fail($"response DATA longer than {_data.Length} bytes (not the SERVING HealthCheckResponse)");
            return;
        }

        payload.CopyTo(_data.AsSpan(_dataLength));
        _dataLength += payload.Length;
    }

    /// <summary>The call's outcome once its trailers (HEADERS with END_STREAM) are decoded: null when OK, else why not.</summary>
    public string? Finish(in ResponseHeaderFields trailers)
    {
        if (_error is not null)
        {
            return _error;
        }

        int httpStatus = HeadersSeen ? _httpStatus : trailers.Status;
        if (httpStatus != 200)
        {
            return $"stream {Id}: HTTP status {httpStatus}";
        }

        if (trailers.GrpcStatus != 0)
        {
            return $"stream {Id}: grpc-status {(trailers.GrpcStatus < 0 ? "missing" : trailers.GrpcStatus)} grpc-message \"{trailers.GrpcMessage}\"";
        }

        if (!_data.AsSpan(0, _dataLength).SequenceEqual(ServingFrame))
        {
            return $"stream {Id}: response message {Convert.ToHexString(_data, 0, _dataLength)} is not {Convert.ToHexString(ServingFrame)} (SERVING)";
        }

        return null;
    }
}
