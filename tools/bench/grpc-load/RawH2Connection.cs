using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace GrpcLoad;

/// <summary>
/// One HTTP/2 connection (h2c, prior knowledge) written by hand on a blocking <see cref="Socket"/>, for the raw
/// client: requests are written with <see cref="Socket.Send(ReadOnlySpan{byte})"/> on the caller's own thread
/// under the connection's lock; a dedicated reader thread (<see cref="RawH2Connection"/>.Reader.cs) parses every
/// answer and completes calls on itself, so no call passes through the thread pool.
/// </summary>
/// <remarks>
/// Flow control: the client announces a 16 MiB stream window and raises the connection window to 2^31-1, and gives
/// back what responses use with WINDOW_UPDATE; it sends a request only within the server's
/// SETTINGS_MAX_CONCURRENT_STREAMS, its connection window and its initial stream window (each request is 5 bytes of
/// DATA), queueing the call otherwise until a stream closes or a WINDOW_UPDATE arrives.
/// </remarks>
internal sealed partial class RawH2Connection : IDisposable
{
    private const int StreamWindow = 16 << 20;
    private const int ConnectionWindow = int.MaxValue;
    private const int RequestDataLength = 5;

    private readonly Socket _socket;
    private readonly RawHealthClient _owner;
    private readonly object _gate = new();
    private readonly byte[] _request;
    private readonly int _dataFrameOffset;
    private readonly Dictionary<int, RawStream> _streams = [];
    private readonly Stack<RawStream> _pool = new();
    private readonly Queue<ICallSink> _waiting = new();
    private readonly ManualResetEventSlim _settingsReceived = new();
    private readonly Thread _reader;
    private long _nextStreamId = 1;
    private long _maxConcurrentStreams = long.MaxValue; // unlimited until the server's SETTINGS say otherwise
    private long _sendWindow = 65535;
    private long _peerInitialWindow = 65535;
    private string? _deadReason;

    private RawH2Connection(Socket socket, RawHealthClient owner, string path, string authority)
    {
        _socket = socket;
        _owner = owner;
        byte[] block = HpackRequestBlock.Encode(path, authority);
        _dataFrameOffset = Http2Frame.HeaderLength + block.Length;
        _request = new byte[_dataFrameOffset + Http2Frame.HeaderLength + RequestDataLength];
        Http2Frame.WriteHeader(_request, block.Length, Http2Frame.Headers, Http2Frame.FlagEndHeaders, 0);
        block.CopyTo(_request, Http2Frame.HeaderLength);
        Http2Frame.WriteHeader(_request.AsSpan(_dataFrameOffset), RequestDataLength, Http2Frame.Data, Http2Frame.FlagEndStream, 0);
        // The 5 bytes of DATA: an uncompressed gRPC frame of length 0 (an empty HealthCheckRequest); already zero.
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "grpc-load raw h2 reader" };
    }

    /// <summary>
    /// Connects, sends the preface, SETTINGS (HEADER_TABLE_SIZE 0, ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 16 MiB) and a
    /// connection WINDOW_UPDATE, and waits for the server's SETTINGS, which bound what may be sent.
    /// </summary>
    public static RawH2Connection Connect(EndPoint endPoint, RawHealthClient owner, string path, string authority)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Connect(endPoint);
            var connection = new RawH2Connection(socket, owner, path, authority);
            connection.SendHandshake();
            connection._reader.Start();
            if (!connection._settingsReceived.Wait(TimeSpan.FromSeconds(10)))
            {
                throw new IOException($"no SETTINGS from {endPoint} within 10 s" + (connection._deadReason is { } why ? ": " + why : string.Empty));
            }

            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends the call now, or queues it until the server's limits allow; fails it (on the thread pool) when the connection is gone.</summary>
    public void Start(ICallSink sink)
    {
        string? dead;
        lock (_gate)
        {
            dead = _deadReason;
            if (dead is null)
            {
                if (CanSendLocked())
                {
                    SendRequestLocked(sink);
                }
                else
                {
                    _waiting.Enqueue(sink);
                    Queued++;
                }

                return;
            }
        }

        _owner.FailLater(sink, dead);
    }

    /// <summary>Calls that had to wait for a stream slot or flow-control window before they were sent.</summary>
    public long Queued { get; private set; }

    public void Dispose()
    {
        Die("connection closed by the client");
        _socket.Dispose();
        _settingsReceived.Dispose();
    }

    private void SendHandshake()
    {
        Span<byte> settings = stackalloc byte[Http2Frame.HeaderLength + (3 * 6)];
        Http2Frame.WriteHeader(settings, 3 * 6, Http2Frame.Settings, 0, 0);
        WriteSetting(settings[9..], Http2Frame.SettingHeaderTableSize, 0);
        WriteSetting(settings[15..], Http2Frame.SettingEnablePush, 0);
        WriteSetting(settings[21..], Http2Frame.SettingInitialWindowSize, StreamWindow);
        byte[] windowUpdate = Http2Frame.WindowUpdateFrame(0, ConnectionWindow - 65535);
        byte[] handshake = [.. Http2Frame.Preface, .. settings, .. windowUpdate];
        SendAll(handshake);
    }

    private static void WriteSetting(Span<byte> destination, ushort id, uint value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, id);
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], value);
    }

    private bool CanSendLocked() =>
        _streams.Count < _maxConcurrentStreams && _sendWindow >= RequestDataLength && _peerInitialWindow >= RequestDataLength;

    /// <summary>HEADERS and DATA (END_STREAM) of a new stream in one send; the stream ids are patched into the template.</summary>
    private void SendRequestLocked(ICallSink sink)
    {
        if (_nextStreamId > int.MaxValue)
        {
            DieLocked("stream ids exhausted");
            _owner.FailLater(sink, "stream ids exhausted");
            return;
        }

        int id = (int)_nextStreamId;
        _nextStreamId += 2;
        BinaryPrimitives.WriteInt32BigEndian(_request.AsSpan(5), id);
        BinaryPrimitives.WriteInt32BigEndian(_request.AsSpan(_dataFrameOffset + 5), id);
        RawStream stream = _pool.Count > 0 ? _pool.Pop() : new RawStream();
        stream.Reset(sink, id);
        _streams.Add(id, stream);
        _sendWindow -= RequestDataLength;
        try
        {
            SendAll(_request);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            DieLocked("send failed: " + ex.Message);
        }
    }

    /// <summary>Sends queued calls while the server's limits allow (a stream closed or the window grew).</summary>
    private void DrainWaitingLocked()
    {
        while (_deadReason is null && _waiting.Count > 0 && CanSendLocked())
        {
            SendRequestLocked(_waiting.Dequeue());
        }
    }

    /// <summary>Writes a control frame (ACK, WINDOW_UPDATE) between requests.</summary>
    private void SendControl(ReadOnlySpan<byte> frame)
    {
        lock (_gate)
        {
            if (_deadReason is null)
            {
                SendAll(frame);
            }
        }
    }

    private void SendAll(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            bytes = bytes[_socket.Send(bytes)..];
        }
    }

    /// <summary>Marks the connection dead and fails every call on it, in flight or queued.</summary>
    private void Die(string reason)
    {
        lock (_gate)
        {
            DieLocked(reason);
        }
    }

    private void DieLocked(string reason)
    {
        if (_deadReason is not null)
        {
            return;
        }

        _deadReason = reason;
        foreach (RawStream stream in _streams.Values)
        {
            _owner.FailLater(stream.Sink!, $"stream {stream.Id}: {reason}");
        }

        _streams.Clear();
        while (_waiting.TryDequeue(out ICallSink? sink))
        {
            _owner.FailLater(sink, reason);
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }
}
