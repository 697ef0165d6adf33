using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace GrpcLoad;

/// <summary>The reader thread: blocking receives, frame parsing, and the completion of calls on this thread.</summary>
internal sealed partial class RawH2Connection
{
    // Connection-window credit used by received DATA and not yet given back; returned once it passes this.
    private const int WindowUpdateThreshold = 64 * 1024;

    private readonly HpackDecoder _decoder = new();
    private readonly byte[] _receive = new byte[4 * (Http2Frame.MaxPayload + Http2Frame.HeaderLength)];
    private byte[] _headerBlock = new byte[Http2Frame.MaxPayload];
    private int _headerBlockLength;
    private int _continuationStreamId; // 0: no header block is open
    private bool _continuationEndStream;
    private int _unacknowledgedData;
    private RawStream? _current;

    private void ReadLoop()
    {
        int filled = 0;
        try
        {
            while (true)
            {
                int received = _socket.Receive(_receive, filled, _receive.Length - filled, SocketFlags.None);
                if (received == 0)
                {
                    Die("the server closed the connection");
                    return;
                }

                // One timestamp per receive: the time the answers in it reached the client, before any of the
                // calls they complete starts its successor.
                long arrived = Stopwatch.GetTimestamp();
                filled += received;
                int offset = 0;
                while (filled - offset >= Http2Frame.HeaderLength)
                {
                    ReadOnlySpan<byte> header = _receive.AsSpan(offset, Http2Frame.HeaderLength);
                    int length = Http2Frame.ReadLength(header);
                    if (length > Http2Frame.MaxPayload)
                    {
                        Die($"FRAME_SIZE_ERROR: a {length}-byte frame (the client allows {Http2Frame.MaxPayload})");
                        return;
                    }

                    if (filled - offset < Http2Frame.HeaderLength + length)
                    {
                        break;
                    }

                    string? error = OnFrame(header[3], header[4], Http2Frame.ReadStreamId(header), _receive.AsSpan(offset + Http2Frame.HeaderLength, length), arrived);
                    if (error is not null)
                    {
                        Die(error);
                        return;
                    }

                    offset += Http2Frame.HeaderLength + length;
                }

                // Keep a partial frame at the start of the buffer.
                Buffer.BlockCopy(_receive, offset, _receive, 0, filled - offset);
                filled -= offset;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Die("receive failed: " + ex.Message);
        }
    }

    /// <summary>Handles one frame; returns a connection error, or null.</summary>
    private string? OnFrame(byte type, byte flags, int streamId, ReadOnlySpan<byte> payload, long arrived)
    {
        if (_continuationStreamId != 0 && (type != Http2Frame.Continuation || streamId != _continuationStreamId))
        {
            return $"PROTOCOL_ERROR: frame type {type} on stream {streamId} inside the header block of stream {_continuationStreamId}";
        }

        switch (type)
        {
            case Http2Frame.Data:
                return OnData(flags, streamId, payload);
            case Http2Frame.Headers:
                return OnHeaders(flags, streamId, payload, arrived);
            case Http2Frame.Continuation:
                return OnContinuation(flags, streamId, payload, arrived);
            case Http2Frame.RstStream:
                if (payload.Length != 4)
                {
                    return "FRAME_SIZE_ERROR: RST_STREAM";
                }

                EndStream(streamId, $"stream {streamId}: RST_STREAM {Http2Frame.ErrorName(BinaryPrimitives.ReadUInt32BigEndian(payload))}", arrived);
                return null;
            case Http2Frame.Settings:
                return (flags & Http2Frame.FlagAck) != 0 ? null : OnSettings(payload);
            case Http2Frame.Ping:
                if ((flags & Http2Frame.FlagAck) == 0 && payload.Length == 8)
                {
                    Span<byte> ack = stackalloc byte[Http2Frame.HeaderLength + 8];
                    Http2Frame.WriteHeader(ack, 8, Http2Frame.Ping, Http2Frame.FlagAck, 0);
                    payload.CopyTo(ack[Http2Frame.HeaderLength..]);
                    SendControl(ack);
                }

                return null;
            case Http2Frame.GoAway:
                OnGoAway(payload);
                return null;
            case Http2Frame.WindowUpdate:
                if (streamId == 0 && payload.Length == 4)
                {
                    lock (_gate)
                    {
                        _sendWindow += BinaryPrimitives.ReadUInt32BigEndian(payload) & int.MaxValue;
                        DrainWaitingLocked();
                    }
                }

                return null; // a stream's window: each request's 5 bytes are sent with its HEADERS, within the initial window
            case Http2Frame.PushPromise:
                return "PROTOCOL_ERROR: PUSH_PROMISE although the client set ENABLE_PUSH=0";
            default:
                return null; // PRIORITY and unknown types are ignored (§4.1, §5.5)
        }
    }

    private string? OnSettings(ReadOnlySpan<byte> payload)
    {
        if (payload.Length % 6 != 0)
        {
            return "FRAME_SIZE_ERROR: SETTINGS";
        }

        lock (_gate)
        {
            for (int i = 0; i < payload.Length; i += 6)
            {
                ushort id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
                uint value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                if (id == Http2Frame.SettingMaxConcurrentStreams)
                {
                    _maxConcurrentStreams = value;
                }
                else if (id == Http2Frame.SettingInitialWindowSize)
                {
                    _peerInitialWindow = value;
                }
            }

            Span<byte> ack = stackalloc byte[Http2Frame.HeaderLength];
            Http2Frame.WriteHeader(ack, 0, Http2Frame.Settings, Http2Frame.FlagAck, 0);
            SendAll(ack);
            DrainWaitingLocked();
        }

        _settingsReceived.Set();
        return null;
    }

    private void OnGoAway(ReadOnlySpan<byte> payload)
    {
        int lastStreamId = payload.Length >= 8 ? BinaryPrimitives.ReadInt32BigEndian(payload) & int.MaxValue : 0;
        string code = payload.Length >= 8 ? Http2Frame.ErrorName(BinaryPrimitives.ReadUInt32BigEndian(payload[4..])) : "?";
        string reason = $"GOAWAY {code} last stream {lastStreamId}";
        lock (_gate)
        {
            // Streams above the last one the server will process fail now; the others may still be answered, but no
            // new stream is opened: queued calls and later starts fail.
            _current = null;
            foreach (RawStream stream in _streams.Values.Where(s => s.Id > lastStreamId).ToArray())
            {
                _streams.Remove(stream.Id);
                _owner.FailLater(stream.Sink!, $"stream {stream.Id}: {reason}");
            }

            _deadReason ??= reason;
            while (_waiting.TryDequeue(out ICallSink? sink))
            {
                _owner.FailLater(sink, reason);
            }
        }
    }

    private string? OnData(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        // All of the payload, padding included, counts against the connection window (§6.9.1).
        _unacknowledgedData += payload.Length;
        if (_unacknowledgedData >= WindowUpdateThreshold)
        {
            SendControl(Http2Frame.WindowUpdateFrame(0, _unacknowledgedData));
            _unacknowledgedData = 0;
        }

        if (!Unpad(flags, ref payload))
        {
            return "PROTOCOL_ERROR: DATA padding longer than the frame";
        }

        RawStream? stream = Find(streamId);
        if (stream is null)
        {
            return null; // a stream already ended (reset or failed): its data is dropped
        }

        if (!stream.HeadersSeen)
        {
            stream.Fail($"stream {streamId}: DATA before the response headers");
        }

        stream.OnData(payload);
        if ((flags & Http2Frame.FlagEndStream) != 0)
        {
            EndStream(streamId, $"stream {streamId}: ended by DATA without trailers (no grpc-status)", 0);
        }

        return null;
    }

    private string? OnHeaders(byte flags, int streamId, ReadOnlySpan<byte> payload, long arrived)
    {
        if (!Unpad(flags, ref payload))
        {
            return "PROTOCOL_ERROR: HEADERS padding longer than the frame";
        }

        if ((flags & Http2Frame.FlagPriority) != 0)
        {
            if (payload.Length < 5)
            {
                return "FRAME_SIZE_ERROR: HEADERS priority";
            }

            payload = payload[5..];
        }

        bool endStream = (flags & Http2Frame.FlagEndStream) != 0;
        if ((flags & Http2Frame.FlagEndHeaders) != 0)
        {
            return OnHeaderBlock(streamId, payload, endStream, arrived);
        }

        // The block continues in CONTINUATION frames.
        _continuationStreamId = streamId;
        _continuationEndStream = endStream;
        _headerBlockLength = 0;
        AppendHeaderBlock(payload);
        return null;
    }

    private string? OnContinuation(byte flags, int streamId, ReadOnlySpan<byte> payload, long arrived)
    {
        if (_continuationStreamId == 0)
        {
            return $"PROTOCOL_ERROR: CONTINUATION on stream {streamId} without HEADERS";
        }

        AppendHeaderBlock(payload);
        if ((flags & Http2Frame.FlagEndHeaders) == 0)
        {
            return null;
        }

        _continuationStreamId = 0;
        return OnHeaderBlock(streamId, _headerBlock.AsSpan(0, _headerBlockLength), _continuationEndStream, arrived);
    }

    private void AppendHeaderBlock(ReadOnlySpan<byte> fragment)
    {
        if (_headerBlockLength + fragment.Length > _headerBlock.Length)
        {
            Array.Resize(ref _headerBlock, Math.Max(_headerBlock.Length * 2, _headerBlockLength + fragment.Length));
        }

        fragment.CopyTo(_headerBlock.AsSpan(_headerBlockLength));
        _headerBlockLength += fragment.Length;
    }

    /// <summary>A whole header block: response headers, or trailers (END_STREAM), which end the call.</summary>
    private string? OnHeaderBlock(int streamId, ReadOnlySpan<byte> block, bool endStream, long arrived)
    {
        // Decoded even for an unknown stream: the block may change the decoder's state (table size updates).
        ResponseHeaderFields fields = ResponseHeaderFields.Empty;
        string? hpackError = _decoder.Decode(block, ref fields);
        RawStream? stream = Find(streamId);
        if (stream is not null)
        {
            if (hpackError is not null)
            {
                stream.Fail($"stream {streamId}: {hpackError}");
            }

            if (!endStream)
            {
                if (stream.HeadersSeen)
                {
                    stream.Fail($"stream {streamId}: a second HEADERS without END_STREAM");
                }

                stream.OnHeaders(fields);
                return null;
            }

            EndStream(streamId, stream.Finish(fields), arrived);
        }

        // A decoding error leaves the decoder's state unknown: no later block can be trusted (COMPRESSION_ERROR).
        return hpackError is null ? null : "COMPRESSION_ERROR: " + hpackError;
    }

    /// <summary>
    /// The stream of a frame. The last one found is kept (an answer's HEADERS, DATA and trailers usually arrive
    /// together), which is safe because only this thread ends streams and returns them to the pool.
    /// </summary>
    private RawStream? Find(int streamId)
    {
        if (_current is { } current && current.Id == streamId)
        {
            return current;
        }

        lock (_gate)
        {
            return _current = _streams.GetValueOrDefault(streamId);
        }
    }

    /// <summary>Ends a stream: frees its slot, sends queued calls, then completes its call on this thread.</summary>
    private void EndStream(int streamId, string? error, long arrived)
    {
        ICallSink sink;
        lock (_gate)
        {
            if (!_streams.Remove(streamId, out RawStream? stream))
            {
                return;
            }

            sink = stream.Sink!;
            _current = null;
            _pool.Push(stream);
            DrainWaitingLocked();
        }

        if (error is null)
        {
            sink.Completed(true, arrived);
        }
        else
        {
            _owner.RecordError(error);
            sink.Completed(false, arrived == 0 ? Stopwatch.GetTimestamp() : arrived);
        }
    }

    /// <summary>Strips the padding of a PADDED frame (§6.1); false when the pad length exceeds the payload.</summary>
    private static bool Unpad(byte flags, ref ReadOnlySpan<byte> payload)
    {
        if ((flags & Http2Frame.FlagPadded) == 0)
        {
            return true;
        }

        if (payload.IsEmpty || payload[0] >= payload.Length)
        {
            return false;
        }

        payload = payload.Slice(1, payload.Length - 1 - payload[0]);
        return true;
    }
}
